"""The operations console in a real browser: `fraud serve` (serving the built console at
/dashboard/) and `fraud consume` on a tansu broker, the suite's Redis and PostgreSQL, a
generated history replayed while Debian's headless chromium, driven by playwright-core
(tests/e2e/console/drive.mjs), watches decisions, opens one, labels it, resolves a case
and writes a rule with an error. The screenshots land in reports/console/."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from app.auth import digest, key_id
from localservers import TansuBroker, delete_keys, free_port, wait_until_ready
from tests.e2e.test_retrain_loop import running, stored_rows
from tests.integration.test_history import labels_in_redis
from tests.pg import DATABASE_URL, drop_schema, query
from tests.receivers import HttpReceiver
from tests.servers import shared_redis_url

ROOT = Path(__file__).resolve().parents[2]
FRONTEND = ROOT / "frontend"
CONSOLE = FRONTEND / "dist"
DRIVER = Path(__file__).with_name("console") / "drive.mjs"
SHOTS = ROOT / "reports" / "console"
CHROMIUM = Path("/usr/bin/chromium")
FRAUD = str(Path(sys.executable).with_name("fraud"))

SCORER = f"fk_e2e_console_score_{uuid.uuid4().hex}"
ANALYST = f"fk_e2e_console_admin_{uuid.uuid4().hex}"  # admin: every view enabled
READER = f"fk_e2e_console_read_{uuid.uuid4().hex}"  # read: every view but the queue
CASE_CARD = f"card_console_{uuid.uuid4().hex[:8]}"
CASE_PREFIX = "case_"
BLOCK_CARD = f"card_stolen_{uuid.uuid4().hex[:8]}"
CASE_RULE = "e2e_case"
# `amont`: a typo the rule compiler refuses, naming the position of the name (0-based 17).
BAD_CONDITION = "amount > 100 and amont < 5000"
BAD_AT = BAD_CONDITION.index("amont")
FRAME_SECONDS = 5.0


def console_prerequisites() -> None:
    """What `make test` provides before pytest (the Makefile's browser and console steps);
    named plainly when the test runs without them."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/debian-packages.sh (as root)")
    if shutil.which("node") is None:
        pytest.fail("node is missing (Node.js 20 runs the browser driver)")
    if not (CONSOLE / "index.html").exists():
        pytest.fail(f"{CONSOLE} holds no build: run `make console`")
    if not (FRONTEND / "node_modules" / "playwright-core").exists():
        pytest.fail("frontend/node_modules lacks playwright-core: run `make console`")


@dataclass
class Stack:
    """The running stack: the API's URL, the environment every process shares, and the
    API process, which `restart_api` replaces on the same port (a deploy, as the console
    sees it)."""

    base: str
    env: dict[str, str]
    cwd: Path
    hook: HttpReceiver
    api: ExitStack = field(default_factory=ExitStack)
    away_s: float | None = None  # how long the last restart took

    def start_api(self) -> None:
        port = self.base.rsplit(":", 1)[1]
        process = self.api.enter_context(running(["serve", "--port", port], self.env, self.cwd))
        wait_until_ready(self.base, process, 60)

    def restart_api(self) -> float:
        """Stop the API and start it again; the seconds it was away."""
        started = time.monotonic()
        self.api.close()
        self.start_api()
        return time.monotonic() - started


@pytest.fixture
def stack(tmp_path: Path, bundle_dir: Path) -> Iterator[Stack]:
    """`fraud serve` with the built console and `fraud consume`, on a tansu broker, the
    suite's Redis and PostgreSQL under names of this test's own."""
    console_prerequisites()
    schema, prefix = f"t_{uuid.uuid4().hex[:10]}", f"console{uuid.uuid4().hex[:8]}"
    redis_url = shared_redis_url()
    port = free_port()
    with ExitStack() as stack:
        broker = TansuBroker().start()
        stack.callback(broker.cleanup)
        hook = HttpReceiver()  # the alerts' webhook
        stack.callback(hook.close)
        stack.callback(drop_schema, schema)
        stack.callback(delete_keys, redis_url, prefix)
        env = os.environ | {
            "FRAUD_ENVIRONMENT": "test",
            "FRAUD_API_KEYS": digest(SCORER),
            "FRAUD_ADMIN_API_KEYS": digest(ANALYST),
            "FRAUD_READ_API_KEYS": digest(READER),
            "FRAUD_REDIS_URL": redis_url,
            "FRAUD_REDIS_PREFIX": prefix,
            "FRAUD_DATABASE_URL": DATABASE_URL,
            "FRAUD_DATABASE_SCHEMA": schema,
            "FRAUD_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
            "FRAUD_AUDIT_IDEMPOTENCE": "false",  # tansu refuses InitProducerId
            "FRAUD_CONSUMER_GROUP": f"g-{schema}",
            "FRAUD_SPOOL_PATH": str(tmp_path / "audit.spool"),
            "FRAUD_MODEL_DIR": str(bundle_dir),
            "FRAUD_CONSOLE_DIR": str(CONSOLE),
            "FRAUD_ALERT_WEBHOOK_URL": hook.url("/hook"),
            "FRAUD_ALERT_WEBHOOK_SECRET": uuid.uuid4().hex,
            "FRAUD_EVENT_TIME": "replay",  # the traffic is a generated history
        }
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        running_stack = Stack(f"http://127.0.0.1:{port}", env, tmp_path, hook)
        stack.enter_context(running_stack.api)
        running_stack.start_api()
        stack.enter_context(running(["consume"], env, tmp_path))
        yield running_stack


def case_transaction(n: int) -> dict[str, Any]:
    return {
        "transaction_id": f"{CASE_PREFIX}{n}",
        "timestamp": f"2026-01-02T10:0{n}:00Z",
        "amount": 480.0 + n,
        "currency": "EUR",
        "card_id": CASE_CARD,
        "merchant_id": "m_console",
        "merchant_category": "5732",
        "merchant_country": "DE",
        "channel": "ecommerce",
    }


def open_case(http: httpx.Client) -> tuple[int, list[str]]:
    """A case of the card CASE_CARD, opened before the traffic (so the oldest in the queue):
    an active rule sends the card to review, two of its transactions are scored."""
    rule = {"condition": f'card_id == "{CASE_CARD}"', "action": "review", "priority": 1}
    assert http.put(f"/v1/rules/{CASE_RULE}", json=rule).status_code == 201
    deadline = time.monotonic() + 10
    n = 0
    while True:  # the rule sync polls: score until the rule decides
        n += 1
        answer = http.post("/v1/score", json=case_transaction(n), headers=score_key())
        assert answer.status_code == 200, answer.text
        if answer.json()["decision_source"] == f"rule:{CASE_RULE}":
            break
        assert time.monotonic() < deadline, "the rule never decided"
        time.sleep(0.2)
    n += 1
    assert http.post("/v1/score", json=case_transaction(n), headers=score_key()).status_code == 200
    deadline = time.monotonic() + 30
    while True:
        items = http.get("/v1/cases").json()["items"]
        case = next((c for c in items if c["card_id"] == CASE_CARD), None)
        if case is not None and case["transaction_count"] == n:
            break
        assert time.monotonic() < deadline, f"no case of {n} transactions: {items}"
        time.sleep(0.3)
    detail = http.get(f"/v1/cases/{case['id']}").json()
    return int(case["id"]), sorted(t["transaction_id"] for t in detail["transactions"])


def score_key() -> dict[str, str]:
    return {"Authorization": f"Bearer {SCORER}"}


def drive(stack: Stack, case_id: int) -> dict[str, Any]:
    """The driver's tour; when it asks (a `restart-api` line on its stderr), the API is
    restarted under it, and how long that took is added to its results."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for stale in SHOTS.glob("failed-*.png"):  # a failed step's picture, from an earlier run
        stale.unlink()
    options = {
        "mode": "tour",
        "base": stack.base,
        "key": ANALYST,
        "frontend": str(FRONTEND),
        "shots": str(SHOTS),
        "caseId": str(case_id),
        "caseRule": CASE_RULE,
        "skipPrefix": CASE_PREFIX,
        "frameSeconds": FRAME_SECONDS,
        "ruleCondition": BAD_CONDITION,
        "readerKey": READER,
        "blockCard": BLOCK_CARD,
    }
    with subprocess.Popen(
        ["node", str(DRIVER), orjson.dumps(options).decode()],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as node:
        out = run_driver(node, stack)
    result: dict[str, Any] = orjson.loads(out)
    result["api_away_s"] = stack.away_s
    return result


def run_driver(node: subprocess.Popen[str], stack: Stack) -> str:
    """What the driver printed; restarts the API when the driver asks."""
    said: list[str] = []
    restarted: list[float | BaseException] = []

    def listen() -> None:
        assert node.stderr is not None
        for line in node.stderr:
            said.append(line)
            if line.strip() == "restart-api":
                try:
                    restarted.append(stack.restart_api())
                except BaseException as exc:  # reported by the test, not lost in the thread
                    restarted.append(exc)

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    try:
        assert node.stdout is not None
        out = node.stdout.read()  # until the driver ends (the test's timeout bounds it)
        node.wait(30)
    finally:
        if node.poll() is None:
            node.kill()  # it is ours; the test fails anyway
            node.wait(10)
    listener.join(90)
    assert node.returncode == 0, "".join(said)[-4000:]
    for outcome in restarted:
        if isinstance(outcome, BaseException):
            raise outcome
        stack.away_s = outcome
    return out


@pytest.mark.timeout(420)
def test_the_console_in_a_browser(
    stack: Stack,
    history_file: Path,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    base, env = stack.base, stack.env
    schema = env["FRAUD_DATABASE_SCHEMA"]
    http = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {ANALYST}"}, timeout=10)
    request.addfinalizer(http.close)
    case_id, case_txs = open_case(http)

    traffic = [FRAUD, "replay", "--data", str(history_file), "--url", base, "--rate", "40"]
    with (tmp_path / "replay.stderr").open("wb") as log:
        replay = subprocess.Popen(
            [*traffic, "--limit", "20000", "--api-key", SCORER],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            deadline = time.monotonic() + 60
            while stored_rows(schema) < 100:  # the detail view reads stored decisions
                assert replay.poll() is None, (tmp_path / "replay.stderr").read_text()
                assert time.monotonic() < deadline, "the consumer stored no traffic"
                time.sleep(0.5)
            seen = drive(stack, case_id)
        finally:
            replay.terminate()
            replay.wait(30)
    print(orjson.dumps({k: v for k, v in seen.items() if k != "live"}).decode())
    frames = seen.get("frames", {})
    print(
        f"console frame times while decisions flow ({frames.get('seconds')} s, "
        f"{frames.get('frames')} frames): p50 {frames.get('p50_ms')} ms, "
        f"p95 {frames.get('p95_ms')} ms, max {frames.get('max_ms')} ms, "
        f"{frames.get('long_frames')} over 50 ms; {frames.get('delivered_per_s')} decisions/s "
        f"reached the page, feed rows rendered {frames.get('rendered_per_s')}/s"
    )
    assert "failed" not in seen, seen["failed"]
    assert seen["session_key"] >= 1  # the key lives in session storage
    # No request of the console failed but the refused rule (and the browser's own
    # /favicon.ico, which the console does not ship), the API's restart aside.
    assert {
        (status, path) for status, path, step in seen["failed_responses"] if step != "reconnect"
    } <= {
        (422, "/v1/rules/e2e_typo"),
        (404, "/favicon.ico"),
    }, seen["failed_responses"]
    assert not [
        e for step, e in seen["console_errors"] if step != "reconnect" and "load resource" not in e
    ], seen["console_errors"]

    # Live: decisions and KPIs appear and move; the charts are drawn; pause holds the feed.
    live = seen["live"]
    assert live["state"] == "live"
    assert live["rows_before"] > 0
    assert live["top_after"] != live["top_before"], live
    # The KPIs sampled every 250 ms while frames were measured: they appear and move.
    samples = frames["kpis"]
    throughput = [float(k["throughput"]) for k in samples if k["throughput"]]
    assert max(throughput, default=0.0) > 0, samples
    assert len({(k["throughput"], k["p50"], k["p99"]) for k in samples}) > 1, samples
    assert any(k["p50"] and float(k["p50"]) > 0 for k in samples), samples
    assert all(count >= 1 for count in live["charts"].values()), live["charts"]
    assert set(live["tiers"]) <= {"low", "medium", "high", "critical"}
    held, later = live["paused_top"]
    assert held == later, live["paused_top"]
    assert frames["frames"] >= FRAME_SECONDS * 10, frames  # the page kept drawing

    # Filtered to reviews: the model's review tiers only.
    assert seen["filtered_tiers"], seen
    assert set(seen["filtered_tiers"]) <= {"medium", "high"}, seen["filtered_tiers"]

    # Detail: the stored record's decision and reasons, as the API holds them.
    detail = seen["detail"]
    stored = http.get(f"/v1/transactions/{detail['transaction_id']}").json()
    # Opened within the scope of the key that scored it (the replay's).
    assert detail["url"].endswith(f"#/transactions/{stored['scope']}/{detail['transaction_id']}")
    response = stored["response"]
    assert response["decision"] in detail["decision"]
    assert detail["reasons"] == [r["feature"] for r in response["reasons"]]
    assert detail["reasons"]
    # The feedback click reached PostgreSQL, by the analyst's key.
    labels = query(
        schema,
        "SELECT label, key_id FROM feedback WHERE transaction_id = $1",
        detail["transaction_id"],
    )
    assert [tuple(r) for r in labels] == [("fraud", key_id(ANALYST))]

    # Queue: the case, assigned and resolved in the browser, labelled its transactions,
    # and the labels reached the card's label window in Redis.
    queue = seen["queue"]
    assert queue["cases"][0] == str(case_id), queue  # the oldest open case first
    assert queue["keyboard"]  # opened, assigned and resolved with j/k, Enter, a and f
    assert queue["url"].endswith(f"#/cases/{case_id}")
    assert "fraud" in queue["result"], queue
    (case,) = query(
        schema,
        "SELECT status, verdict, assignee, note, resolved_by FROM cases WHERE id = $1",
        case_id,
    )
    assert tuple(case) == (
        "closed",
        "fraud",
        key_id(ANALYST),
        "confirmed by the cardholder (e2e)",
        key_id(ANALYST),
    )
    feedback = query(
        schema,
        "SELECT transaction_id, label FROM feedback WHERE source = $1 ORDER BY 1",
        f"case:{case_id}",
    )
    assert [tuple(r) for r in feedback] == [(tx, "fraud") for tx in case_txs]
    windows = labels_in_redis(
        env["FRAUD_REDIS_URL"], env["FRAUD_REDIS_PREFIX"], "card", CASE_CARD, key_id(SCORER)
    )
    assert sorted(windows) == [tx.encode() for tx in case_txs]

    # Rules: the compiler's refusal, shown at its position; nothing was written.
    rules = seen["rules"]
    assert "amont" in rules["error"], rules
    assert str(BAD_AT) in rules["error"] or str(BAD_AT + 1) in rules["error"], rules
    # The condition shown with a mark at the position the API named.
    assert any(
        m["around"] == BAD_CONDITION
        and m["offset"] == BAD_AT
        and BAD_CONDITION[BAD_AT:].startswith(m["text"])
        for m in rules["marked"]
    ), rules
    assert http.get("/v1/rules/e2e_typo").status_code == 404
    # The rule list, with the hits the case's rule had from the stored decisions.
    assert CASE_RULE in rules["rows"], rules
    assert int(rules["case_rule_hits"]["active"]) >= 1, rules
    assert int(rules["case_rule_hits"]["shadow"]) == 0, rules

    # The API restarted under the live view: the console reconnected by itself and said
    # how many seconds it missed, no more than it was away from the stream.
    reconnect = seen["reconnect"]
    assert reconnect["state_while_away"] in {"reconnecting", "connecting"}, reconnect
    missed = re.fullmatch(r".*missed (\d+) seconds?.*", reconnect["notice"], re.S)
    assert missed is not None, reconnect
    assert 1 <= int(missed.group(1)) <= reconnect["away_s"] + 2, (reconnect, seen["api_away_s"])
    assert reconnect["flowing"]  # and the KPIs count decisions again

    # Lists: the entry added in the browser, by the analyst's key, expiring in a day, then
    # removed (its row kept, marked deleted).
    (entry,) = query(
        schema,
        "SELECT id, entity, action, reason, expires_at, created_by, deleted_at, deleted_by "
        "FROM list_entries WHERE value = $1",
        BLOCK_CARD,
    )
    assert str(entry["id"]) == seen["lists"]["entry_id"]
    assert (entry["entity"], entry["action"], entry["created_by"]) == (
        "card",
        "block",
        key_id(ANALYST),
    )
    assert entry["reason"] == "e2e: card reported stolen"
    ahead = entry["expires_at"] - datetime.now(UTC)
    assert timedelta(hours=23) < ahead <= timedelta(days=1), entry
    assert entry["deleted_at"] is not None, entry
    assert entry["deleted_by"] == key_id(ANALYST)

    # Alerts: the webhook's deliveries for the high and critical decisions, with their
    # status as the outbox holds it.
    assert "sent" in seen["alerts"], seen["alerts"]
    assert set(seen["alerts"]) <= {"pending", "sent", "failed", "suppressed"}, seen["alerts"]
    assert stack.hook.at("/hook")

    # A read-only key: the queue (review scope) is disabled, the rest enabled.
    assert seen["reader_nav"] == {
        "live": None,
        "queue": "true",
        "rules": None,
        "lists": None,
        "alerts": None,
    }, seen["reader_nav"]

    for name in ("live", "detail", "queue", "case", "rules-error", "lists", "alerts", "reconnect"):
        assert (SHOTS / f"{name}.png").stat().st_size > 10_000, name
