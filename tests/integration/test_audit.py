"""Every decision reaches the audit topic, also across a broker outage, without slowing scoring.

Uses a tansu broker of its own (memory storage); outages are simulated by pausing it.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from localservers import TansuBroker
from tests.integration.test_score_api import body
from tests.waiting import eventually

TOPIC = "transactions.scored"


def sent() -> float:
    """Events this process's producers have had Kafka take."""
    labels = {"topic": TOPIC, "outcome": "sent"}
    return REGISTRY.get_sample_value("fraud_audit_events_total", labels) or 0.0


def consumed(bootstrap: str, expected: int, timeout_s: float = 30) -> list[dict[str, object]]:
    async def read() -> list[dict[str, object]]:
        consumer = AIOKafkaConsumer(
            TOPIC,
            bootstrap_servers=bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            group_id=None,
        )
        await consumer.start()
        events: list[dict[str, object]] = []
        try:
            deadline = time.monotonic() + timeout_s
            while (
                len({e["request"]["transaction_id"] for e in events}) < expected
                and time.monotonic() < deadline
            ):  # type: ignore[index]
                for messages in (await consumer.getmany(timeout_ms=500)).values():
                    events += [orjson.loads(m.value) | {"_key": m.key} for m in messages]
        finally:
            await consumer.stop()
        return events

    return asyncio.run(read())


def test_every_decision_is_published_keyed_by_card(
    broker: TansuBroker, audited_client: TestClient
) -> None:
    answers = [
        audited_client.post(
            "/v1/score", json=body(transaction_id=f"a{i}", card_id=f"card_{i % 7}")
        ).json()
        for i in range(150)
    ]
    events = consumed(broker.bootstrap, 150)
    by_id = {e["request"]["transaction_id"]: e for e in events}  # type: ignore[index]
    assert set(by_id) == {f"a{i}" for i in range(150)}
    for answer in answers:
        event = by_id[answer["transaction_id"]]
        assert event["schema"] == 1
        assert event["decision"] == answer
        assert event["_key"] == event["request"]["card_id"].encode()  # type: ignore[index]


def test_a_paused_broker_spools_events_and_they_are_resent(
    broker: TansuBroker, audited_client: TestClient, tmp_path: Path
) -> None:
    spool = tmp_path / "audit.spool"
    c = audited_client
    for i in range(20):
        assert c.post("/v1/score", json=body(transaction_id=f"before{i}")).status_code == 200
    # Delivered before the pause: the producer is connected and the topic exists.
    delivered = {e["request"]["transaction_id"] for e in consumed(broker.bootstrap, 20)}  # type: ignore[index]
    assert delivered == {f"before{i}" for i in range(20)}
    broker.pause()
    try:
        for i in range(60):
            r = c.post("/v1/score", json=body(transaction_id=f"during{i}"))
            assert r.status_code == 200
            assert r.json()["degraded"] is False  # Kafka is never on the scoring path
        deadline = time.monotonic() + 30
        while spool.stat().st_size == 0 and time.monotonic() < deadline:
            c.post("/v1/score", json=body(transaction_id=f"nudge{time.monotonic_ns()}"))
            time.sleep(0.5)
        assert spool.stat().st_size > 0
    finally:
        broker.resume()
    deadline = time.monotonic() + 30
    while spool.stat().st_size > 0 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert spool.stat().st_size == 0, "spooled events were not re-sent"
    ids = {e["request"]["transaction_id"] for e in consumed(broker.bootstrap, 80)}  # type: ignore[index]
    assert {f"before{i}" for i in range(20)} | {f"during{i}" for i in range(60)} <= ids


def test_stopping_while_a_batch_is_in_flight_spools_it(broker: TansuBroker, tmp_path: Path) -> None:
    """SIGTERM's path: the producer is stopped while Kafka has a batch but has not answered
    (the broker stalled). The batch it took off the queue must end in the spool; it was
    lost when stop() cancelled the delivery under way."""
    from persistence.producer import AuditProducer
    from persistence.spool import Spool

    path = tmp_path / "audit.spool"

    async def drill() -> None:
        producer = AuditProducer(
            broker.bootstrap, TOPIC, Spool(path), idempotent=False, send_timeout_s=1.0
        )
        await producer.start()
        before = sent()
        producer.publish(b"card", b"warm-up")
        # Connected, topic created, warm-up sent.
        await eventually(lambda: sent() == before + 1, "warm-up sent")
        broker.pause()
        try:
            for i in range(50):
                producer.publish(b"card", f"event {i}".encode())
            await eventually(  # the batch is out, waiting for the broker
                lambda: producer._delivering and producer._queue.empty(), "batch taken"
            )
            await producer.stop()
        finally:
            broker.resume()

    asyncio.run(drill())
    spool = Spool(path)
    spooled = spool.read()
    spool.close()
    assert [v for _, v in spooled] == [f"event {i}".encode() for i in range(50)]
