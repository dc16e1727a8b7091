"""API key scopes through the HTTP app on real Redis, PostgreSQL and tansu: every route with
a key of each scope, an unknown key and none; feedback and list entries stored with their
key's id."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from app.auth import digest, key_id
from app.main import create_app
from localservers import TansuBroker
from persistence.consumer import ConsumerConfig
from persistence.writer import decode
from tests.audit_events import audit_bytes
from tests.integration.conftest import make_settings
from tests.integration.test_cases import write
from tests.integration.test_score_api import body
from tests.pg import DATABASE_URL, consume_until, query

KEYS = {name: f"fk_scope_{name}" for name in ("score", "read", "review", "admin")}
CALLERS = [*KEYS, "unknown", "none"]


def headers(caller: str) -> dict[str, str]:
    if caller == "none":
        return {}
    return {"Authorization": f"Bearer {KEYS.get(caller, 'fk_not_a_key')}"}


@pytest.fixture
def scoped(
    broker: TansuBroker,
    redis_url: str,
    prefix: str,
    bundle_dir: Path,
    tmp_path: Path,
    schema: str,
) -> Iterator[TestClient]:
    """The API with one key per scope and one decision (`s1`) in its history."""
    settings = make_settings(
        redis_url,
        prefix,
        bundle_dir,
        api_keys=digest(KEYS["score"]),
        read_api_keys=digest(KEYS["read"]),
        review_api_keys=digest(KEYS["review"]),
        admin_api_keys=digest(KEYS["admin"]),
        kafka_bootstrap_servers=broker.bootstrap,
        audit_idempotence=False,
        database_url=DATABASE_URL,
        database_schema=schema,
        spool_path=tmp_path / "audit.spool",
        audit_partitions=1,
    )
    with TestClient(create_app(settings)) as c:
        r = c.post("/v1/score", json=body(transaction_id="s1"), headers=headers("score"))
        assert r.status_code == 200, r.text
        config = ConsumerConfig(
            broker.bootstrap, "transactions.scored", f"g-{schema}", DATABASE_URL, schema
        )
        assert asyncio.run(consume_until(config, 1, 0)) == (1, 0)
        # One review case (case 1) on a card of its own, from a decision the writer stores.
        asyncio.run(write(schema, [decode(audit_bytes("s_case", "card_scope", "high"))]))
        yield c


# Who gets past the key check on each route, and the status the route then answers.
ALLOWED = {
    "score": ({"score", "admin"}, 200),
    "list": ({"read", "review", "admin"}, 200),
    "get": ({"read", "review", "admin"}, 200),
    "feedback": ({"review", "admin"}, 201),
    "reload": ({"admin"}, 200),
    "lists_add": ({"admin"}, 201),
    "lists_read": ({"read", "review", "admin"}, 200),
    "lists_get": ({"read", "review", "admin"}, 404),  # past the key check: no entry 999999
    "lists_delete": ({"admin"}, 404),
    "cases": ({"read", "review", "admin"}, 200),
    "case": ({"read", "review", "admin"}, 200),
    "assign": ({"review", "admin"}, 200),
    "resolve": ({"review", "admin"}, 404),  # an unknown case: past the key check
    "me": ({"score", "read", "review", "admin"}, 200),  # any known key
    "alerts": ({"read", "review", "admin"}, 200),
    "rule_hits": ({"read", "review", "admin"}, 200),
    "report": ({"read", "review", "admin"}, 200),
}
NEEDS = {
    "score": "score",
    "list": "read",
    "get": "read",
    "feedback": "review",
    "reload": "admin",
    "cases": "read",
    "case": "read",
    "assign": "review",
    "resolve": "review",
}
NEEDS |= {"alerts": "read", "rule_hits": "read", "report": "read"}
NEEDS |= {"lists_add": "admin", "lists_read": "read", "lists_get": "read", "lists_delete": "admin"}


def call(c: TestClient, route: str, caller: str) -> tuple[int, dict[str, object]]:
    h = headers(caller)
    if route == "score":
        r = c.post("/v1/score", json=body(transaction_id=f"m_{caller}"), headers=h)
    elif route == "list":
        r = c.get("/v1/transactions", headers=h)
    elif route == "get":
        r = c.get("/v1/transactions/s1", headers=h)
    elif route == "cases":
        r = c.get("/v1/cases", headers=h)
    elif route == "case":
        r = c.get("/v1/cases/1", headers=h)
    elif route == "assign":
        r = c.post("/v1/cases/1/assign", json={"assignee": f"an_{caller}"}, headers=h)
    elif route == "resolve":
        r = c.post("/v1/cases/999/resolve", json={"verdict": "fraud"}, headers=h)
    elif route == "feedback":
        report = {"transaction_id": "s1", "label": "fraud", "source": f"src_{caller}"}
        r = c.post("/v1/feedback", json=report, headers=h)
    elif route == "lists_add":
        entry = {"entity": "card", "value": f"c_{caller}", "action": "block", "reason": "test"}
        r = c.post("/v1/lists", json=entry, headers=h)
    elif route == "lists_read":
        r = c.get("/v1/lists", headers=h)
    elif route == "lists_get":
        r = c.get("/v1/lists/999999", headers=h)
    elif route == "lists_delete":
        r = c.delete("/v1/lists/999999", headers=h)
    elif route == "me":
        r = c.get("/v1/me", headers=h)
    elif route == "alerts":
        r = c.get("/v1/alerts", headers=h)
    elif route == "rule_hits":
        r = c.get("/v1/rules/hits", headers=h)
    elif route == "report":
        period = {"since": "2026-11-02T00:00:00Z", "until": "2026-11-09T00:00:00Z"}
        r = c.get("/v1/reports/performance", params=period, headers=h)
    else:
        r = c.post("/v1/admin/reload", headers=h)
    return r.status_code, r.json()


def test_every_route_with_every_scope(scoped: TestClient, schema: str) -> None:
    seen = {}
    for route, (allowed, status) in ALLOWED.items():
        for caller in CALLERS:
            code, answer = call(scoped, route, caller)
            seen[route, caller] = code
            if caller in ("unknown", "none"):
                assert code == 401, (route, caller, answer)
                assert answer["error"] == "unauthorized"
            elif caller in allowed:
                assert code == status, (route, caller, answer)
            else:
                assert code == 403, (route, caller, answer)
                assert answer == {
                    "error": "forbidden",
                    "detail": f"this API key needs the `{NEEDS[route]}` scope",
                }
    # Refused feedback wrote nothing; accepted feedback carries its key's id, never the key.
    stored = query(schema, "SELECT source, key_id FROM feedback ORDER BY source")
    assert [tuple(r) for r in stored] == [
        ("src_admin", key_id(KEYS["admin"])),
        ("src_review", key_id(KEYS["review"])),
    ]
    # Only keys with `review` assigned the case; the last of them holds it.
    assert query(schema, "SELECT status, assignee FROM cases")[0][:] == ("assigned", "an_admin")
    labels = scoped.get("/v1/transactions/s1", headers=headers("read")).json()["labels"]
    assert {x["key_id"] for x in labels} == {key_id(KEYS["admin"]), key_id(KEYS["review"])}
    # Refused list writes wrote nothing; the admin's entry carries its key's id.
    listed = query(schema, "SELECT value, created_by FROM list_entries")
    assert [tuple(r) for r in listed] == [("c_admin", key_id(KEYS["admin"]))]


@pytest.mark.parametrize("caller", CALLERS)
def test_the_stream_needs_the_read_scope(scoped: TestClient, caller: str) -> None:
    query_key = "" if caller == "none" else f"?api_key={KEYS.get(caller, 'fk_not_a_key')}"
    if caller in ("read", "review", "admin"):
        with scoped.websocket_connect(f"/v1/stream{query_key}") as ws:
            assert ws.receive_json()["type"] == "hello"
        return
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        scoped.websocket_connect(f"/v1/stream{query_key}") as ws,
    ):
        ws.receive_json()
    assert closed.value.code == 1008
    expected = "needs the `read` scope" if caller == "score" else "API key"
    assert expected in closed.value.reason
