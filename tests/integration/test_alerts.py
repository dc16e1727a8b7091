"""Alerts from the decisions the consumer writes, to a real HTTP receiver and SMTP server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from fastapi.testclient import TestClient

from app.settings import Settings
from cli.consume import run_consumer
from localservers import TansuBroker
from persistence.alerts import AlertPolicy
from persistence.dispatcher import AlertDispatcher, DispatchConfig
from persistence.migrations import upgrade
from persistence.sinks import EmailSink, PagerDutySink, SlackSink, WebhookSink, verify_signature
from persistence.writer import decode, write_batch
from tests.audit_events import audit_bytes
from tests.integration.test_score_api import body
from tests.pg import DATABASE_URL, query
from tests.receivers import HttpReceiver, SmtpReceiver

T0 = datetime(2026, 11, 28, 12, tzinfo=UTC)
SECRET = "hook-secret"
SINKS = ("webhook", "slack", "pagerduty", "email")


@pytest.fixture
def http() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    receiver = SmtpReceiver()
    yield receiver
    receiver.close()


def decision(tx: str, card: str, tier: str, minutes: float) -> tuple[Any, ...]:
    return decode(audit_bytes(tx, card, tier, minutes))


BATCH = [
    decision("a1", "card_A", "high", 0),
    decision("a2", "card_A", "critical", 1),  # same card within the window: suppressed
    decision("b1", "card_B", "low", 0),  # below the alert tiers: nothing
    decision("c1", "card_C", "critical", 2),
]


async def write(schema: str, rows: list[tuple[Any, ...]], policy: AlertPolicy) -> int:
    conn = await asyncpg.connect(DATABASE_URL)
    try:
        await upgrade(conn, schema)
        await conn.execute(f'SET search_path TO "{schema}"')
        return await write_batch(conn, rows, [], policy)
    finally:
        await conn.close()


async def deliver_until_settled(
    dispatcher: AlertDispatcher, schema: str, timeout_s: float = 20
) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher.run(stop))
    conn = await asyncpg.connect(DATABASE_URL, server_settings={"search_path": schema})
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            if not await conn.fetchval("SELECT count(*) FROM alerts WHERE status = 'pending'"):
                break
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await task
        await conn.close()


def test_high_risk_decisions_reach_every_sink_once_per_card_with_retries(
    schema: str, http: HttpReceiver, smtp: SmtpReceiver
) -> None:
    policy = AlertPolicy(frozenset({"high", "critical"}), SINKS, dedup_s=900)
    assert asyncio.run(write(schema, BATCH, policy)) == 4
    assert asyncio.run(write(schema, BATCH, policy)) == 0  # re-delivered: no second alert
    outbox = query(
        schema, "SELECT transaction_id, status, count(*) FROM alerts GROUP BY 1, 2 ORDER BY 1"
    )
    assert [tuple(r) for r in outbox] == [
        ("a1", "pending", 4),
        ("a2", "suppressed", 4),
        ("c1", "pending", 4),
    ]

    http.fail = {"/webhook": 2, "/slack": -1}  # the webhook recovers, Slack never does

    async def run() -> None:
        async with httpx.AsyncClient(timeout=5) as client:
            sinks = {
                "webhook": WebhookSink(http.url("/webhook"), SECRET, client),
                "slack": SlackSink(http.url("/slack"), client),
                "pagerduty": PagerDutySink(http.url("/pagerduty"), "R0UTE", client),
                "email": EmailSink("127.0.0.1", smtp.port, "fraud@test", ("ops@test",)),
            }
            config = DispatchConfig(max_attempts=3, retry_base_s=0.05, poll_s=0.05)
            await deliver_until_settled(
                AlertDispatcher(sinks, DATABASE_URL, schema, config), schema
            )

    asyncio.run(run())
    status = {
        (r["transaction_id"], r["sink"]): (r["status"], r["attempts"])
        for r in query(schema, "SELECT * FROM alerts WHERE status <> 'suppressed'")
    }
    assert {k: v[0] for k, v in status.items()} == {
        (tx, sink): "failed" if sink == "slack" else "sent" for tx in ("a1", "c1") for sink in SINKS
    }
    assert status[("a1", "slack")][1] == 3  # max_attempts
    assert sum(status[(tx, "webhook")][1] for tx in ("a1", "c1")) == 4  # 2 refused, 2 delivered

    hooks = http.at("/webhook")
    assert sorted(orjson.loads(h.body)["transaction_id"] for h in hooks) == ["a1", "c1"]
    for hook in hooks:
        assert verify_signature(
            SECRET, hook.headers["X-Fraud-Timestamp"], hook.body, hook.headers["X-Fraud-Signature"]
        )
    pages = {
        orjson.loads(p.body)["payload"]["custom_details"]["transaction_id"]: orjson.loads(p.body)
        for p in http.at("/pagerduty")
    }
    assert set(pages) == {"a1", "c1"}
    assert pages["c1"]["payload"]["severity"] == "critical"
    assert pages["a1"]["routing_key"] == "R0UTE"
    assert http.refused["/slack"] == 6
    assert sorted(m["Subject"].split("tx ")[-1].rstrip(")") for m in smtp.messages) == ["a1", "c1"]
    assert all(m["To"] == "ops@test" for m in smtp.messages)


def test_the_rate_limit_delays_alerts_and_loses_none(schema: str, http: HttpReceiver) -> None:
    rows = [decision(f"r{i}", f"card_{i}", "critical", i) for i in range(12)]
    asyncio.run(write(schema, rows, AlertPolicy(frozenset({"critical"}), ("webhook",))))

    async def run() -> int:
        async with httpx.AsyncClient(timeout=5) as client:
            dispatcher = AlertDispatcher(
                {"webhook": WebhookSink(http.url("/webhook"), SECRET, client)},
                DATABASE_URL,
                schema,
                DispatchConfig(rate_per_s=4, poll_s=0.05),
            )
            first = await dispatcher.run_once()
            await deliver_until_settled(dispatcher, schema)
            return first

    assert asyncio.run(run()) == 4
    assert len(http.at("/webhook")) == 12
    assert query(schema, "SELECT count(*) FROM alerts WHERE status = 'sent'")[0][0] == 12


def test_fraud_consume_raises_alerts_for_scored_decisions(
    broker: TansuBroker, schema: str, audited_client: TestClient, http: HttpReceiver
) -> None:
    for i in range(20):
        r = audited_client.post(
            "/v1/score", json=body(transaction_id=f"e{i}", card_id=f"card_e{i}")
        )
        assert r.status_code == 200
    settings = Settings(
        environment="test",
        kafka_bootstrap_servers=broker.bootstrap,
        audit_idempotence=False,  # tansu refuses InitProducerId
        database_url=DATABASE_URL,
        database_schema=schema,
        consumer_group=f"g-{schema}",
        alert_tiers="low,medium,high,critical",  # every decision alerts
        alert_webhook_url=http.url("/webhook"),
        alert_webhook_secret=SECRET,
    )

    async def run() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(run_consumer(settings, stop))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while len(http.at("/webhook")) < 20 and loop.time() < deadline:
            await asyncio.sleep(0.2)
        stop.set()
        await task

    asyncio.run(run())
    assert sorted(orjson.loads(h.body)["transaction_id"] for h in http.at("/webhook")) == sorted(
        f"e{i}" for i in range(20)
    )
