"""Transaction ids scoped by the key that scored them, on a real `fraud serve` and a real
`fraud consume` (tansu, the suite's Redis and PostgreSQL).

The hostile run this reproduces (issue 22, finding 1): key B scored id T for an attacker's
card, then key A scored the same T for a real customer's card. Both got 200, but PostgreSQL
kept B's record only: the customer's decision had no history row and no case, nothing was
dead-lettered, and a review key's feedback on T labelled the attacker's record."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redis

from app.auth import digest, key_id
from features.window_format import decision_key, seen_key
from localservers import TansuBroker
from tests.e2e.test_retrain_loop import running
from tests.e2e.test_serve import live, serving
from tests.pg import DATABASE_URL, drop_schema, query
from tests.servers import shared_redis_url

KEYS = {
    name: f"fk_scopes_{name}_{uuid.uuid4().hex}"
    for name in ("a", "b", "gateway", "read", "review", "admin")
}
SCOPE = {name: key_id(key) for name, key in KEYS.items()}
T = "tx_shared_0001"


def rows(schema: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    try:
        return query(schema, sql, *args)
    except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
        return []  # the consumer has not migrated yet


def wait_for(schema: str, sql: str, expected: int, *args: Any) -> list[asyncpg.Record]:
    """The query's rows once there are `expected` of them (the consumer is asynchronous)."""
    deadline = time.monotonic() + 90
    found = rows(schema, sql, *args)
    while len(found) < expected:
        assert time.monotonic() < deadline, f"{sql}: {len(found)} rows of {expected}"
        time.sleep(0.2)
        found = rows(schema, sql, *args)
    return found


@pytest.fixture
def stack(bundle_dir: Path, tmp_path: Path) -> Iterator[tuple[httpx.Client, str, str]]:
    """The API (key A, B and a gateway key that scores and reads; read, review and admin
    keys) and the consumer on one broker; the client, the schema and the Redis prefix."""
    schema = f"t_{uuid.uuid4().hex[:10]}"
    env = {
        "FRAUD_API_KEYS": ",".join(digest(KEYS[k]) for k in ("a", "b", "gateway")),
        "FRAUD_READ_API_KEYS": ",".join(digest(KEYS[k]) for k in ("read", "gateway")),
        "FRAUD_REVIEW_API_KEYS": digest(KEYS["review"]),
        "FRAUD_ADMIN_API_KEYS": digest(KEYS["admin"]),
        "FRAUD_DATABASE_URL": DATABASE_URL,
        "FRAUD_DATABASE_SCHEMA": schema,
        "FRAUD_CONSUMER_GROUP": f"g-{schema}",
    }
    with ExitStack() as stack:
        broker = TansuBroker().start()
        stack.callback(broker.cleanup)
        stack.callback(drop_schema, schema)
        base, _ = stack.enter_context(serving(bundle_dir, kafka=broker.bootstrap, env=env))
        prefix = f"serve{base.rsplit(':', 1)[1]}"
        consumer_env = (
            dict(os.environ)
            | env
            | {
                "FRAUD_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
                "FRAUD_REDIS_URL": shared_redis_url(),
                "FRAUD_ENVIRONMENT": "test",
            }
        )
        consumer_env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        stack.enter_context(running(["consume"], consumer_env, tmp_path))
        http = stack.enter_context(httpx.Client(base_url=base, timeout=30))
        yield http, schema, prefix


def key(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[name]}"}


def test_another_key_cannot_take_over_a_transaction_id(
    stack: tuple[httpx.Client, str, str],
) -> None:
    http, schema, _ = stack
    # The customer's card is on the review list: its decision opens a case whatever the model.
    entry = {"entity": "card", "value": "card_REAL_CUSTOMER", "action": "review", "reason": "t"}
    assert http.post("/v1/lists", json=entry, headers=key("admin")).status_code == 201

    attacker = live(transaction_id=T, card_id="card_ATTACKER", amount=1.0)
    customer = live(transaction_id=T, card_id="card_REAL_CUSTOMER", amount=4999.0, channel="atm")
    first = http.post("/v1/score", json=attacker, headers=key("b"))
    second = http.post("/v1/score", json=customer, headers=key("a"))
    assert first.status_code == second.status_code == 200, (first.text, second.text)
    assert second.json()["decision"] == "review"

    stored = wait_for(
        schema, "SELECT scope, card_id FROM decisions WHERE transaction_id = $1", 2, T
    )
    assert {(r["scope"], r["card_id"]) for r in stored} == {
        (SCOPE["a"], "card_REAL_CUSTOMER"),
        (SCOPE["b"], "card_ATTACKER"),
    }
    assert rows(schema, "SELECT 1 FROM dead_letters") == []

    # By id alone the history cannot tell which: 409 naming both scopes.
    ambiguous = http.get(f"/v1/transactions/{T}", headers=key("read"))
    assert ambiguous.status_code == 409, ambiguous.text
    assert ambiguous.json()["error"] == "ambiguous_transaction_id"
    assert SCOPE["a"] in ambiguous.json()["detail"]
    assert SCOPE["b"] in ambiguous.json()["detail"]
    mine = http.get(f"/v1/transactions/{T}", params={"scope": SCOPE["a"]}, headers=key("read"))
    assert mine.status_code == 200, mine.text
    assert (mine.json()["scope"], mine.json()["card_id"]) == (SCOPE["a"], "card_REAL_CUSTOMER")
    # An admin lists both, each labelled with its scope.
    both = http.get("/v1/transactions", params={"transaction_id": T}, headers=key("admin"))
    assert {(x["scope"], x["card_id"]) for x in both.json()["items"]} == {
        (SCOPE["a"], "card_REAL_CUSTOMER"),
        (SCOPE["b"], "card_ATTACKER"),
    }
    card = http.get(
        "/v1/transactions", params={"card_id": "card_REAL_CUSTOMER"}, headers=key("read")
    )
    assert [x["scope"] for x in card.json()["items"]] == [SCOPE["a"]]

    # The customer's decision opened its case.
    cases = wait_for(
        schema,
        "SELECT c.id, c.card_id, ct.scope FROM case_transactions ct "
        "JOIN cases c ON c.id = ct.case_id WHERE ct.transaction_id = $1",
        1,
        T,
    )
    assert [(r["card_id"], r["scope"]) for r in cases] == [("card_REAL_CUSTOMER", SCOPE["a"])]
    case = http.get(f"/v1/cases/{cases[0]['id']}", headers=key("read")).json()
    assert [(t["scope"], t["transaction_id"]) for t in case["transactions"]] == [(SCOPE["a"], T)]

    # Feedback must name the scope when two hold the id, and labels only that record.
    label = {"transaction_id": T, "label": "fraud", "source": "chargeback"}
    refused = http.post("/v1/feedback", json=label, headers=key("review"))
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"] == "ambiguous_transaction_id"
    labelled = http.post("/v1/feedback", json=label | {"scope": SCOPE["a"]}, headers=key("review"))
    assert labelled.status_code == 201, labelled.text
    assert labelled.json()["scope"] == SCOPE["a"]
    assert [(r["scope"], r["transaction_id"]) for r in rows(schema, "SELECT * FROM feedback")] == [
        (SCOPE["a"], T)
    ]
    attackers = http.get(f"/v1/transactions/{T}?scope={SCOPE['b']}", headers=key("read"))
    assert attackers.json()["labels"] == []

    # A key that scores and reads (not an admin) sees only the ids it scored itself.
    own = live(transaction_id=T, card_id="card_GATEWAY", amount=20.0)
    assert http.post("/v1/score", json=own, headers=key("gateway")).status_code == 200
    wait_for(schema, "SELECT 1 FROM decisions WHERE transaction_id = $1", 3, T)
    seen = http.get(f"/v1/transactions/{T}", headers=key("gateway"))
    assert (seen.status_code, seen.json()["card_id"]) == (200, "card_GATEWAY")
    other = http.get(f"/v1/transactions/{T}?scope={SCOPE['a']}", headers=key("gateway"))
    assert other.status_code == 404
    listed = http.get("/v1/transactions", params={"transaction_id": T}, headers=key("gateway"))
    assert [x["scope"] for x in listed.json()["items"]] == [SCOPE["gateway"]]
    # Nor, in a case, the transactions other keys scored.
    theirs = http.get(f"/v1/cases/{cases[0]['id']}", headers=key("gateway")).json()
    assert (theirs["card_id"], theirs["transactions"], theirs["card_history"]) == (
        "card_REAL_CUSTOMER",
        [],
        [],
    )


def test_a_record_that_cannot_be_stored_is_dead_lettered_with_its_reason(
    stack: tuple[httpx.Client, str, str],
) -> None:
    """Redis lost the idempotency keys of (A, T): a reused id with other fields is scored
    again; the consumer cannot store it beside the first, and dead-letters it."""
    http, schema, prefix = stack
    first = live(transaction_id=T, card_id="card_ONE", amount=10.0)
    assert http.post("/v1/score", json=first, headers=key("a")).status_code == 200
    wait_for(schema, "SELECT 1 FROM decisions WHERE transaction_id = $1", 1, T)
    with redis.Redis.from_url(shared_redis_url()) as client:
        client.delete(seen_key(prefix, SCOPE["a"], T), decision_key(prefix, SCOPE["a"], T))
    reused = live(transaction_id=T, card_id="card_TWO", amount=900.0)
    assert http.post("/v1/score", json=reused, headers=key("a")).status_code == 200

    dead = wait_for(schema, "SELECT error FROM dead_letters", 1)
    assert "is stored already" in dead[0]["error"]
    assert SCOPE["a"] in dead[0]["error"]
    stored = rows(schema, "SELECT card_id FROM decisions WHERE transaction_id = $1", T)
    assert [r["card_id"] for r in stored] == ["card_ONE"]
