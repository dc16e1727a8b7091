"""POST /v1/score's contract as bytes: a table of requests (answers, retries, every refusal)
and what each got from the API when the table was recorded, in tests/contract/score_v1.json.
The in-process test (tests/integration/test_score_contract.py) and the one on a real
`fraud serve` (tests/e2e/test_score_contract.py) send the same table and compare.

What is compared, per request: the status, the response headers in order (but `date` and
`server`, which the HTTP server adds), the body's bytes, and the access-log and security-log
lines it caused (but their time and latency). Two parts of a body vary with no change of
the contract and are normalised: an answer's `latency_ms`, and the model's outputs (score,
tier, decision, reasons, components, version: the test bundle is trained per session), which
an answer's skeleton replaces by their JSON types. An answer is also held to the one encoding
of a decision: compact orjson bytes, and a retry's bytes equal to the first answer's.

    .venv/bin/pytest tests/integration/test_score_contract.py --record-contract

writes the file from the code in the tree (only when the contract is meant to change).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from app.auth import digest
from app.schemas.score import EXAMPLE

GOLDEN = Path(__file__).parent / "contract" / "score_v1.json"
OPENAPI = Path(__file__).parent / "contract" / "openapi.json"

# The keys the table presents (fixed strings: their key ids appear in the log lines).
KEYS = {
    "score": "fk_contract_score",
    "read": "fk_contract_read",
    "admin": "fk_contract_admin",
    "limited": "fk_contract_limited",
}
KEY_SETTINGS = {
    "api_keys": f"{digest(KEYS['score'])},{digest(KEYS['limited'])}",
    "read_api_keys": digest(KEYS["read"]),
    "admin_api_keys": digest(KEYS["admin"]),
}
MAX_BODY_BYTES = 4096
BODY_TIMEOUT_S = 0.5
# Settings of the servers the table runs against (as FRAUD_* names lower-cased).
SETTINGS: dict[str, Any] = KEY_SETTINGS | {
    "event_time": "live",
    "max_body_bytes": MAX_BODY_BYTES,
    "body_timeout_s": BODY_TIMEOUT_S,
    "access_log": True,
}
RATE_LIMIT = {"rate_limit_per_s": 1.0, "rate_limit_burst": 3.0}

JSON = {"Content-Type": "application/json"}


def bearer(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS.get(name, name)}"}


def now_text(shift_s: float = 0.0) -> str:
    moment = datetime.now(UTC) + timedelta(seconds=shift_s)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def body(transaction_id: str, /, **changes: Any) -> bytes:
    """The documented example at the current time (live event time), changed."""
    fields = EXAMPLE | {"timestamp": now_text(), "transaction_id": transaction_id} | changes
    return orjson.dumps({k: v for k, v in fields.items() if v is not ...})


def with_raw(base: bytes, raw: bytes) -> bytes:
    """`base` (a JSON object) with `raw` (text of more members) before its closing brace."""
    return base[:-1] + b"," + raw + b"}"


@dataclass(frozen=True)
class Request:
    content: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "POST"
    path: str = "/v1/score"
    # Sent in pieces of this size (chunked transfer encoding, no Content-Length).
    chunked: int = 0


@dataclass(frozen=True)
class Case:
    name: str
    # Built when sent: the bodies carry the current time.
    request: Callable[[], Request]
    # An answer (200): its body is compared as a skeleton (module docstring).
    answer: bool = False
    # The name of an earlier case whose answer this one's bytes must equal.
    same_as: str | None = None


def scored(name: str, tx: str, key: str = "score", **changes: Any) -> Case:
    return Case(name, lambda: Request(body(tx, **changes), JSON | bearer(key)), answer=True)


def refused(
    name: str, content: Callable[[], bytes], key: str | None = "score", **headers: str
) -> Case:
    def request() -> Request:
        sent = JSON | (bearer(key) if key else {}) | headers
        return Request(content(), {k: v for k, v in sent.items() if v})

    return Case(name, request)


def invalid(name: str, **changes: Any) -> Case:
    return refused(name, lambda: body(f"c_{name}", **changes))


def invalid_raw(name: str, raw: bytes) -> Case:
    return refused(name, lambda: with_raw(body(f"c_{name}"), raw))


def without(name: str, *fields: str) -> Case:
    return invalid(name, **dict.fromkeys(fields, ...))


# The table, in the order it is sent (later cases may depend on earlier ones).
CASES: list[Case] = [
    scored("good", "c_good"),
    Case("retried", lambda: SENT["good"], answer=True, same_as="good"),
    refused("conflicting", lambda: body("c_good", amount=9999.0)),
    scored("admin_scores_the_same_id", "c_good", key="admin"),
    Case(
        "x_api_key",
        lambda: Request(body("c_xkey"), JSON | {"X-API-Key": KEYS["score"]}),
        answer=True,
    ),
    Case(
        "query_string",
        lambda: Request(body("c_query"), JSON | bearer("score"), path="/v1/score?debug=1"),
        answer=True,
    ),
    Case(
        "unknown_fields_ignored",
        lambda: Request(with_raw(body("c_unknown"), b'"note":{"a":1}'), JSON | bearer("score")),
        answer=True,
    ),
    Case(
        "json_with_charset",
        lambda: Request(
            body("c_charset"),
            {"Content-Type": "Application/JSON; charset=utf-8"} | bearer("score"),
        ),
        answer=True,
    ),
    Case(
        "indented_body",
        lambda: Request(
            orjson.dumps(orjson.loads(body("c_indented")), option=orjson.OPT_INDENT_2),
            JSON | bearer("score"),
        ),
        answer=True,
    ),
    Case(
        "chunked_within_the_limit",
        lambda: Request(body("c_chunked"), JSON | bearer("score"), chunked=100),
        answer=True,
    ),
    refused("missing_key", lambda: body("c_nokey"), key=None),
    refused("bearer_without_key", lambda: body("c_nokey"), key=None, Authorization="Bearer"),
    refused("basic_auth", lambda: body("c_nokey"), key=None, Authorization="Basic dXNlcjpwdw=="),
    refused("unknown_key", lambda: body("c_nokey"), key="fk_contract_unknown"),
    refused("read_key_wrong_scope", lambda: body("c_scope"), key="read"),
    refused("missing_key_and_not_json", lambda: b"x=1", key=None, **{"Content-Type": "text/plain"}),
    refused("read_key_and_bad_json", lambda: b"{not json", key="read"),
    refused("no_content_type", lambda: body("c_ct"), **{"Content-Type": ""}),
    refused("text_plain", lambda: body("c_ct"), **{"Content-Type": "text/plain"}),
    refused("jsonx", lambda: body("c_ct"), **{"Content-Type": "application/jsonx"}),
    refused("form", lambda: b"amount=1", **{"Content-Type": "application/x-www-form-urlencoded"}),
    refused("bad_json", lambda: b"{not json"),
    refused("empty_body", lambda: b""),
    refused("array_body", lambda: b"[1, 2]"),
    refused("null_body", lambda: b"null"),
    refused("truncated_body", lambda: body("c_truncated")[:-1]),
    refused("invalid_utf8", lambda: b'{"transaction_id": "\xff\xfe"}'),
    invalid("amount_negative", amount=-1),
    invalid("amount_zero", amount=0),
    invalid("amount_too_large", amount=1_000_001),
    invalid("amount_as_text", amount="12.50"),
    invalid("amount_boolean", amount=True),
    invalid_raw("amount_nan", b'"amount":NaN'),
    invalid_raw("amount_infinity", b'"amount":Infinity'),
    invalid_raw("amount_overflow", b'"amount":1e999'),
    invalid_raw("latitude_negative_overflow", b'"latitude":-1e999'),
    invalid("latitude_out_of_range", latitude=91.0),
    invalid("longitude_alone", latitude=...),
    invalid("timestamp_without_offset", timestamp="2026-11-28T12:00:00"),
    invalid("timestamp_unix_number", timestamp=1795863600),
    invalid("timestamp_unix_text", timestamp="1795863600"),
    invalid("timestamp_offset_beyond_14h", timestamp="2026-11-28T12:00:00+15:00"),
    invalid("timestamp_out_of_utc", timestamp="9999-12-31T23:59:59.999999-23:59"),
    invalid("currency_lower_case", currency="eur"),
    invalid("channel_unknown", channel="fax"),
    invalid("transaction_id_with_space", transaction_id="bad id"),
    invalid("transaction_id_empty", transaction_id=""),
    invalid("transaction_id_too_long", transaction_id="t" * 65),
    invalid("merchant_category_short", merchant_category="57"),
    invalid("merchant_country_long", merchant_country="FRA"),
    invalid("ip_address_invalid", ip_address="300.1.1.1"),
    invalid("ip_address_scope_id", ip_address="fe80::1%eth0"),
    invalid("ip_address_too_long", ip_address="1" * 100),
    invalid("card_id_control_character", card_id="a\x1fb"),
    invalid("card_id_next_line", card_id="a\x85b"),
    invalid("card_id_null", card_id=None),
    invalid("card_id_number", card_id=123),
    invalid("card_id_object", card_id={"a": 1}),
    invalid("device_id_too_long", device_id="d" * 129),
    without("card_id_missing", "card_id"),
    without("required_fields_missing", "amount", "currency", "merchant_id"),
    invalid_raw("duplicate_amount", b'"amount":5'),
    invalid_raw("duplicate_with_spaces", b'"amount" :\n 5'),
    invalid_raw("duplicate_nested", b'"note":{"a":1,"a":2}'),
    invalid_raw("duplicate_same_value", b'"card_id":"card_tok_8f3a"'),
    invalid_raw("duplicate_and_invalid", b'"amount":-5'),
    refused("event_time_ahead", lambda: body("c_ahead", timestamp=now_text(2 * 86_400))),
    invalid("event_time_behind", timestamp="2020-01-01T00:00:00Z"),
    refused("oversized_declared", lambda: body("c_big", padding="x" * MAX_BODY_BYTES)),
    Case(
        "oversized_chunked",
        lambda: Request(
            body("c_bigchunk", padding="x" * MAX_BODY_BYTES), JSON | bearer("score"), chunked=1000
        ),
    ),
    Case("get_method", lambda: Request(b"", bearer("score"), method="GET")),
    Case("head_method", lambda: Request(b"", bearer("score"), method="HEAD")),
    Case(
        "trailing_slash",
        lambda: Request(body("c_slash"), JSON | bearer("score"), path="/v1/score/"),
    ),
]
CASES_BY_NAME = {case.name: case for case in CASES}
# The requests last sent, by case (a retry sends the same bytes again).
SENT: dict[str, Request] = {}


def build(case: Case) -> Request:
    SENT[case.name] = request = case.request()
    return request


_HOST = re.compile(r"//[^/]+/")
# The timestamp refusals' messages count seconds from the server's clock.
_SECONDS = re.compile(rb"is \d+ s (ahead of|behind) the server")
_SKELETON_TYPES = {"score", "risk_tier", "decision", "components", "model_version"}


def type_of(value: Any) -> Any:
    """A JSON value replaced by its type, recursively through lists and objects."""
    if isinstance(value, dict):
        return {k: type_of(v) for k, v in value.items()}
    if isinstance(value, list):
        return [type_of(v) for v in value]
    if value is None:
        return None
    return f"<{type(value).__name__}>"


def skeleton(content: bytes) -> Any:
    """An answer's body with its model outputs as types and its latency as a mark."""
    answer = orjson.loads(content)
    out = {}
    for key, value in answer.items():
        if key == "latency_ms":
            out[key] = "<latency>"
        elif key == "reasons":  # how many: the model's tier (none for low)
            assert all(list(r) == ["feature", "value", "contribution"] for r in value)
            out[key] = "<reasons>"
        elif key in _SKELETON_TYPES:
            out[key] = type_of(value)
        else:
            out[key] = value
    return out


def observed(
    case: Case, status: int, headers: Iterable[tuple[str, str]], content: bytes
) -> dict[str, Any]:
    """What is compared of one answer (module docstring)."""
    kept = [
        [k.lower(), _HOST.sub("//<host>/", v) if k.lower() == "location" else v]
        for k, v in headers
        if k.lower() not in ("date", "server")
    ]
    if case.answer and status == 200:
        assert content == orjson.dumps(orjson.loads(content)), "not the compact encoding"
        for pair in kept:
            if pair[0] == "content-length":
                assert pair[1] == str(len(content))
                pair[1] = "<length>"
        return {"status": status, "headers": kept, "answer": skeleton(content)}
    return {
        "status": status,
        "headers": kept,
        "body": _SECONDS.sub(rb"is <n> s \1 the server", content).decode(),
    }


# The metrics a request may move, as (name, labels).
METRICS: list[tuple[str, dict[str, str]]] = (
    [
        ("fraud_refused_total", {"status": s})
        for s in ("400", "401", "403", "405", "408", "409", "413", "415", "422", "429", "503")
    ]
    + [
        ("fraud_rate_limited_total", {"scope": "score"}),
        ("fraud_retried_transactions_total", {}),
        ("fraud_score_latency_seconds_count", {}),
        ("fraud_degraded_total", {"cause": "error"}),
        ("fraud_degraded_total", {"cause": "timeout"}),
        ("fraud_degraded_total", {"cause": "store_recently_failed"}),
        ("fraud_score_failures_total", {}),
        ("fraud_audit_events_total", {"topic": "transactions.scored", "outcome": "logged"}),
        ("fraud_audit_events_total", {"topic": "transactions.scored", "outcome": "queued"}),
    ]
    + [
        ("http_requests_total", {"handler": handler, "method": method, "status": status})
        for handler in ("/v1/score", "none")
        for method in ("GET", "HEAD", "POST")
        for status in ("2xx", "3xx", "4xx", "5xx")
    ]
)


def metric_values(sample: Callable[[str, dict[str, str]], float | None]) -> dict[str, float]:
    return {
        f"{name}{sorted(labels.items())}": sample(name, labels) or 0.0 for name, labels in METRICS
    }


def moved(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: after[k] - before[k] for k in before if after[k] != before[k]}


def log_line(line: dict[str, Any]) -> dict[str, Any]:
    """A log line without what varies from run to run."""
    return {k: v for k, v in line.items() if k not in ("time", "latency_ms")}


def load() -> dict[str, Any]:
    result: dict[str, Any] = orjson.loads(GOLDEN.read_bytes())
    return result


def save(recorded: dict[str, Any]) -> None:
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_bytes(orjson.dumps(recorded, option=orjson.OPT_INDENT_2) + b"\n")
