"""The console's reads on real PostgreSQL and Redis: GET /v1/me, GET /v1/alerts (keyset
pages newest first, filters, refused cursors) and GET /v1/rules/hits (counted from the
stored decisions' rules)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest
from fastapi.testclient import TestClient

from app.auth import digest, key_id
from app.main import create_app
from app.schemas.score import EXAMPLE
from persistence.alerts import AlertPolicy
from persistence.message_format import audit_event
from persistence.migrations import upgrade
from persistence.rules import RULE_HITS
from persistence.writer import decode, write_batch
from tests.cursors import cursor_of
from tests.integration.conftest import API_KEY, make_settings
from tests.pg import DATABASE_URL, query

READ_KEY, REVIEW_KEY = "fk_console_read", "fk_console_review"
DECISIONS = {"low": "approve", "medium": "review", "high": "review", "critical": "decline"}
SCORES = {"low": 0.1, "medium": 0.5, "high": 0.8, "critical": 0.97}


def decision(
    tx: str, card: str, tier: str, scored_at: datetime, rules: list[dict[str, str]] | None = None
) -> tuple[Any, ...]:
    request = dict(EXAMPLE) | {"transaction_id": tx, "card_id": card}
    response: dict[str, Any] = {
        "transaction_id": tx,
        "score": SCORES[tier],
        "risk_tier": tier,
        "decision": DECISIONS[tier],
        "reasons": [],
        "components": {"xgboost": 0.9, "isolation_forest": 0.5},
        "model_version": "v-test",
        "degraded": False,
        "latency_ms": 1.5,
    }
    if rules is not None:
        response |= {"decision_source": "model", "rules": rules, "list": None}
    return decode(audit_event(request, orjson.dumps(response), scored_at, "k_test"))


async def write(schema: str, *batches: list[tuple[Any, ...]]) -> None:
    """Each batch in a transaction of its own (the alerts of one share its created_at)."""
    policy = AlertPolicy(frozenset({"high", "critical"}), ("webhook", "slack"), dedup_s=0.0)
    conn = await asyncpg.connect(DATABASE_URL)
    try:
        await upgrade(conn, schema)
        await conn.execute(f'SET search_path TO "{schema}"')
        for batch in batches:
            await write_batch(conn, batch, [], policy)
    finally:
        await conn.close()


@pytest.fixture
def console(redis_url: str, prefix: str, bundle_dir: Path, schema: str) -> Iterator[TestClient]:
    settings = make_settings(
        redis_url,
        prefix,
        bundle_dir,
        read_api_keys=digest(READ_KEY),
        review_api_keys=digest(REVIEW_KEY),
        database_url=DATABASE_URL,
        database_schema=schema,
    )
    with TestClient(create_app(settings)) as c:
        c.headers["Authorization"] = f"Bearer {READ_KEY}"
        yield c


def test_me_names_the_key_and_its_scopes_with_the_implied_ones(console: TestClient) -> None:
    assert console.get("/v1/me").json() == {"key_id": key_id(READ_KEY), "scopes": ["read"]}
    review = console.get("/v1/me", headers={"X-API-Key": REVIEW_KEY, "Authorization": ""})
    assert review.json() == {"key_id": key_id(REVIEW_KEY), "scopes": ["read", "review"]}
    scorer = console.get("/v1/me", headers={"Authorization": f"Bearer {API_KEY}"})
    assert scorer.json()["scopes"] == ["score"]
    for h in ({"Authorization": "Bearer fk_nobody"}, {"Authorization": ""}):
        r = console.get("/v1/me", headers=h)
        assert r.status_code == 401
        assert r.json()["error"] == "unauthorized"


def test_alerts_page_newest_first_with_filters(console: TestClient, schema: str) -> None:
    now = datetime.now(UTC)
    first = [decision(f"a{i}", f"card_{i}", "high", now - timedelta(minutes=i)) for i in range(3)]
    second = [decision("b0", "card_b", "critical", now), decision("b1", "card_c", "low", now)]
    asyncio.run(write(schema, first, second))
    query(
        schema,
        "UPDATE alerts SET status = 'failed', attempts = 8, last_error = 'HTTP 500' "
        "WHERE transaction_id = 'a1' AND sink = 'slack'",
    )
    seen, cursor, pages = [], None, 0
    while True:
        params: dict[str, Any] = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        r = console.get("/v1/alerts", params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        seen += page["alerts"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    # 4 alerting decisions x 2 sinks; the later batch first, ties by transaction and sink.
    assert pages == 3
    assert [(a["transaction_id"], a["sink"]) for a in seen] == [
        ("b0", "webhook"),
        ("b0", "slack"),
        *((f"a{i}", s) for i in (2, 1, 0) for s in ("webhook", "slack")),
    ]
    b0 = seen[0]
    assert (b0["card_id"], b0["risk_tier"], b0["score"], b0["decision"]) == (
        "card_b",
        "critical",
        0.97,
        "decline",
    )
    assert (b0["status"], b0["attempts"], b0["last_error"], b0["sent_at"]) == (
        "pending",
        0,
        None,
        None,
    )
    failed = console.get("/v1/alerts", params={"status": "failed"}).json()
    assert [(a["transaction_id"], a["sink"], a["last_error"]) for a in failed["alerts"]] == [
        ("a1", "slack", "HTTP 500")
    ]
    assert failed["next_cursor"] is None
    webhook = console.get("/v1/alerts", params={"sink": "webhook"}).json()["alerts"]
    assert {a["sink"] for a in webhook} == {"webhook"}
    assert len(webhook) == 4


@pytest.mark.parametrize(
    "params",
    [
        {"status": "lost"},
        {"limit": "0"},
        {"limit": "501"},
        {"cursor": "not-a-cursor"},
        {"cursor": cursor_of(["list", 5])},
        {"cursor": cursor_of(["alert", "2026-12-01T00:00:00", "t", "webhook"])},  # naive time
        {"cursor": cursor_of(["alert", "2026-12-01T00:00:00Z", 5, "webhook"])},
    ],
)
def test_a_bad_alert_filter_or_cursor_is_a_422(console: TestClient, params: dict[str, str]) -> None:
    r = console.get("/v1/alerts", params=params)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "validation_error"


def test_rule_hits_count_the_stored_decisions_rules_by_mode(
    console: TestClient, schema: str
) -> None:
    now = datetime.now(UTC)
    big = {"id": "big_atm", "action": "decline", "mode": "active"}
    night = {"id": "night", "action": "review", "mode": "shadow"}
    night_active = night | {"mode": "active"}
    asyncio.run(
        write(
            schema,
            [
                decision("h1", "c1", "low", now - timedelta(minutes=5), [big, night]),
                decision("h2", "c2", "low", now - timedelta(hours=2), [big]),
                decision("h3", "c3", "low", now - timedelta(hours=3), [night_active]),
                decision("h4", "c4", "low", now - timedelta(hours=30), [big]),  # too old
                decision("h5", "c5", "low", now - timedelta(minutes=1), []),
                decision("h6", "c6", "low", now - timedelta(minutes=1)),  # before rules
            ],
        )
    )
    r = console.get("/v1/rules/hits")
    assert r.status_code == 200, r.text
    answer = r.json()
    since, until = (datetime.fromisoformat(answer[k]) for k in ("since", "until"))
    assert until - since == timedelta(hours=24)
    assert abs(until - datetime.now(UTC)) < timedelta(minutes=1)
    assert answer["hits"] == [
        {"rule_id": "big_atm", "mode": "active", "count": 2},
        {"rule_id": "night", "mode": "active", "count": 1},
        {"rule_id": "night", "mode": "shadow", "count": 1},
    ]
    recent = console.get("/v1/rules/hits", params={"hours": "1"}).json()["hits"]
    assert recent == [
        {"rule_id": "big_atm", "mode": "active", "count": 1},
        {"rule_id": "night", "mode": "shadow", "count": 1},
    ]
    week = console.get("/v1/rules/hits", params={"hours": "168"}).json()["hits"]
    assert week[0] == {"rule_id": "big_atm", "mode": "active", "count": 3}


def test_rule_hits_read_the_partial_index(console: TestClient, schema: str) -> None:
    """The count can read the decisions where a rule matched through their index on
    scoring time, not every decision of the period (seq scans off: the table is tiny)."""
    now = datetime.now(UTC)
    asyncio.run(write(schema, [decision("p1", "c1", "low", now, [])]))

    async def plan() -> str:
        conn = await asyncpg.connect(DATABASE_URL, server_settings={"search_path": schema})
        try:
            await conn.execute("SET enable_seqscan = off")
            rows = await conn.fetch("EXPLAIN " + RULE_HITS, now - timedelta(days=1), now)
            return "\n".join(r[0] for r in rows)
        finally:
            await conn.close()

    text = asyncio.run(plan())
    partial = {
        r["indexname"]
        for r in query(
            schema,
            "SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND indexdef LIKE "
            "'%WHERE ((response -> ''rules''::text) <> ''[]''::jsonb)'",
            schema,
        )
    }
    used = set(re.findall(r"Index Scan using (\S+)", text))
    assert used, text
    assert used <= partial, text  # not the plain index on scored_at, with a filter
    assert "Filter" not in text, text
    assert console.get("/v1/rules/hits").json()["hits"] == []


@pytest.mark.parametrize("hours", ["0", "745", "1.5", "-1", "x"])
def test_rule_hits_refuse_a_bad_period(console: TestClient, hours: str) -> None:
    r = console.get("/v1/rules/hits", params={"hours": hours})
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["field"] == "query.hours"


def test_no_rule_may_be_called_hits(
    redis_url: str, prefix: str, bundle_dir: Path, schema: str
) -> None:
    admin = "fk_console_admin"
    settings = make_settings(
        redis_url,
        prefix,
        bundle_dir,
        admin_api_keys=digest(admin),
        database_url=DATABASE_URL,
        database_schema=schema,
    )
    rule = {"description": "", "condition": "amount > 1", "action": "review", "mode": "shadow"}
    with TestClient(create_app(settings)) as c:
        c.headers["Authorization"] = f"Bearer {admin}"
        r = c.put("/v1/rules/hits", json=rule | {"priority": 1})
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["field"] == "path.rule_id"
        assert c.get("/v1/rules").json()["rules"] == []
