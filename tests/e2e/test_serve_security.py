"""A real `fraud serve` process under a hostile client: key scopes over real sockets, and
its logs (JSON lines on stderr) read back: an access line per request with the key id,
security lines for refusals, no traceback when a client drops mid-body, and no key, card,
device, IP or account anywhere."""

from __future__ import annotations

import socket
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson

from app.auth import digest, key_id
from app.metrics import scraped_total
from tests.e2e.test_serve import live, serving
from tests.pg import DATABASE_URL

KEYS = {name: f"fk_e2e_{name}_{uuid.uuid4().hex}" for name in ("score", "read", "review", "admin")}
SECRETS = {
    "card_id": "card_tok_SECRET4242",
    "device_id": "dev_SECRET7777",
    "ip_address": "203.0.113.177",
    "account_id": "acct_SECRET9999",
}


def scoped_env(schema: str) -> dict[str, str]:
    return {
        "FRAUD_API_KEYS": digest(KEYS["score"]),
        "FRAUD_READ_API_KEYS": digest(KEYS["read"]),
        "FRAUD_REVIEW_API_KEYS": digest(KEYS["review"]),
        "FRAUD_ADMIN_API_KEYS": digest(KEYS["admin"]),
        "FRAUD_DATABASE_URL": DATABASE_URL,
        "FRAUD_DATABASE_SCHEMA": schema,
        "FRAUD_LOG_FORMAT": "json",
        "FRAUD_ACCESS_LOG": "true",
    }


def bearer(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS.get(name, 'fk_unknown_' + name)}"}


def drop_mid_body(base: str, key: str) -> None:
    """Send the headers and half of a body announcing more, then close the connection."""
    host, port = base.removeprefix("http://").split(":")
    body = orjson.dumps(live() | SECRETS | {"transaction_id": "gone"})
    with socket.create_connection((host, int(port))) as s:
        s.sendall(
            b"POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {key}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body[: len(body) // 2]
        )
        time.sleep(0.2)


def test_scopes_and_logs_of_a_real_server(bundle_dir: Path, schema: str) -> None:
    stderr: list[bytes] = []
    with (
        serving(bundle_dir, env=scoped_env(schema), stderr=stderr) as (base, _),
        httpx.Client(base_url=base) as http,
    ):
        tx = live() | SECRETS | {"transaction_id": "tx_SECRET_1"}
        routes = {
            "score": lambda h: http.post("/v1/score", json=tx, headers=h),
            "history": lambda h: http.get(
                "/v1/transactions", params={"card_id": SECRETS["card_id"]}, headers=h
            ),
            "one": lambda h: http.get("/v1/transactions/tx_SECRET_1", headers=h),
            "feedback": lambda h: http.post(
                "/v1/feedback",
                json={"transaction_id": "tx_SECRET_1", "label": "fraud", "source": "cb"},
                headers=h,
            ),
            "reload": lambda h: http.post("/v1/admin/reload", headers=h),
        }
        # Past the key check: 200, or 404/503 where the decision is not stored (no consumer).
        allowed = {
            "score": {"score", "admin"},
            "history": {"read", "review", "admin"},
            "one": {"read", "review", "admin"},
            "feedback": {"review", "admin"},
            "reload": {"admin"},
        }
        for route, send in routes.items():
            for caller in (*KEYS, "unknown"):
                r = send(bearer(caller))
                if caller == "unknown":
                    assert r.status_code == 401, (route, r.text)
                elif caller in allowed[route]:
                    assert r.status_code in (200, 404, 503), (route, caller, r.text)
                else:
                    assert r.status_code == 403, (route, caller, r.text)
                    assert r.json()["error"] == "forbidden"
        assert http.post("/v1/score", json=tx).status_code == 401  # no key at all
        for _ in range(5):
            drop_mid_body(base, KEYS["score"])
        # The server is still fine after the dropped clients.
        assert http.post("/v1/score", json=tx, headers=bearer("score")).status_code == 200

    written = stderr[0]
    lines = [orjson.loads(line) for line in written.splitlines() if line.strip()]
    assert all(isinstance(line, dict) for line in lines)
    for secret in [*SECRETS.values(), *KEYS.values(), "tx_SECRET_1"]:
        assert secret.encode() not in written, secret
    assert b"Traceback" not in written
    assert b"ClientDisconnect" not in written

    access = [x for x in lines if x["logger"] == "fraud.access" and "status" in x]
    scored = [x for x in access if x["path"] == "/v1/score" and x["status"] == 200]
    assert {x["key_id"] for x in scored} == {key_id(KEYS["score"]), key_id(KEYS["admin"])}
    assert all(x["method"] == "POST" and x["latency_ms"] >= 0 for x in scored)
    paths = {x["path"] for x in access}
    assert {"/v1/transactions/{transaction_id}", "/v1/transactions"} <= paths
    forbidden = [x for x in access if x["status"] == 403]
    assert len(forbidden) == 9

    security = [x for x in lines if x["logger"] == "fraud.security"]
    refused: dict[int, list[dict[str, Any]]] = {}
    for x in security:
        if x.get("event") == "refused":
            refused.setdefault(x["status"], []).append(x)
    assert len(refused[403]) == 9
    assert len(refused[401]) == 6
    assert {x["path"] for x in refused[403]} == {
        "/v1/score",
        "/v1/transactions",
        "/v1/transactions/{transaction_id}",
        "/v1/feedback",
        "/v1/admin/reload",
    }
    assert {x["key_id"] for x in refused[403] if x["path"] == "/v1/admin/reload"} == {
        key_id(KEYS[name]) for name in ("score", "read", "review")
    }
    reloads = [x for x in security if x.get("event") == "admin"]
    assert [(x["action"], x["key_id"]) for x in reloads] == [("reload", key_id(KEYS["admin"]))]

    gone = [x for x in lines if x.get("event") == "client_disconnect"]
    assert len(gone) == 5


def test_two_servers_share_one_rate_limit(bundle_dir: Path) -> None:
    """Two `fraud serve` processes on one Redis prefix admit, together, about the rate."""
    shared = {
        "FRAUD_REDIS_PREFIX": f"rl{uuid.uuid4().hex[:8]}",
        "FRAUD_RATE_LIMIT_PER_S": "10",
        "FRAUD_RATE_LIMIT_BURST": "10",
    }
    logs: list[bytes] = []
    with (
        serving(bundle_dir, env=shared, stderr=logs) as (one, _),
        serving(bundle_dir, env=shared, stderr=logs) as (two, _),
        httpx.Client(headers={"Authorization": "Bearer k1"}) as http,
    ):
        statuses = []
        started = time.monotonic()
        while time.monotonic() - started < 3:
            base = (one, two)[len(statuses) % 2]
            tx = live() | {"transaction_id": f"rl_{len(statuses)}"}
            r = http.post(f"{base}/v1/score", json=tx)
            statuses.append(r.status_code)
            if r.status_code == 429:
                assert int(r.headers["Retry-After"]) >= 1
                assert r.json()["error"] == "rate_limited"
        elapsed = time.monotonic() - started
        limited = sum(
            scraped_total(http.get(f"{base}/metrics").text, "fraud_rate_limited_total")
            for base in (one, two)
        )
    expected = 10 + 10 * elapsed
    # A loaded machine may send fewer requests than the limit admits: then all pass.
    assert min(len(statuses), 0.75 * expected) <= statuses.count(200) <= 1.3 * expected, (
        statuses.count(200),
        len(statuses),
    )
    if len(statuses) > 1.3 * expected:
        assert statuses.count(429) > 0
    assert limited == statuses.count(429)
    refused = [
        line
        for line in (orjson.loads(x) for text in logs for x in text.splitlines() if x.strip())
        if line.get("event") == "refused"
    ]
    assert len(refused) == statuses.count(429)
    assert {x["status"] for x in refused} == {429}
    assert {x["key_id"] for x in refused} == {key_id("k1")}
