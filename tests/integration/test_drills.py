"""PostgreSQL (a cluster of the test's own) stopped and restarted under the consumer: it
holds its batch, retries and catches up, nothing lost, nothing doubled.

The drills about Kafka itself run on real Apache Kafka: test_kafka_drills.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from localservers import PostgresServer, TansuBroker
from persistence.consumer import AuditConsumer, ConsumerConfig
from tests.audit_events import audit_bytes
from tests.waiting import eventually

TOPIC = "transactions.scored"


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    server = PostgresServer().start()
    yield server
    server.cleanup()


async def produce(bootstrap: str, first: int, count: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for i in range(first, first + count):
            card = f"card_{i % 97}"
            await producer.send(TOPIC, key=card.encode(), value=audit_bytes(f"pg{i}", card))
        await producer.flush()
    finally:
        await producer.stop()


async def count_rows(url: str, schema: str) -> int:
    try:
        conn = await asyncpg.connect(url, server_settings={"search_path": schema}, timeout=2)
    except (OSError, asyncpg.PostgresError):
        return -1
    try:
        return int(await conn.fetchval("SELECT count(*) FROM decisions"))
    except asyncpg.UndefinedTableError:
        return 0
    finally:
        await conn.close()


async def wait_for_rows(url: str, schema: str, rows: int, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    found = await count_rows(url, schema)
    while found < rows and time.monotonic() < deadline:
        await asyncio.sleep(0.3)
        found = await count_rows(url, schema)
    return found


@pytest.mark.timeout(180)
def test_postgresql_stopped_and_restarted_under_the_consumer(
    broker: TansuBroker, own_postgres: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    schema = "drill"
    config = ConsumerConfig(
        broker.bootstrap, TOPIC, "g-pg-drill", own_postgres.url, schema, batch_size=200
    )

    async def drill() -> tuple[int, int, int]:
        consumer = AuditConsumer(config)
        stop_consumer = asyncio.Event()
        task = asyncio.create_task(consumer.run(stop_consumer))
        await produce(broker.bootstrap, 0, 1_500)
        before = await wait_for_rows(own_postgres.url, schema, 1_500, 60)
        await asyncio.to_thread(own_postgres.stop)
        await produce(broker.bootstrap, 1_500, 1_500)  # arrives while the database is down
        await eventually(  # the consumer holds its batch and retries it
            lambda: retries() >= 2, "two retries of the batch while PostgreSQL is down"
        )
        assert not task.done()
        await asyncio.to_thread(own_postgres.start)
        await wait_for_rows(own_postgres.url, schema, 3_000, 60)
        # Counted once the consumer has stopped: nothing arrives after the count, so a
        # duplicate shows as a row beyond 3,000.
        stop_consumer.set()
        await asyncio.wait_for(task, 30)
        conn = await asyncpg.connect(own_postgres.url, server_settings={"search_path": schema})
        try:
            after, distinct = await conn.fetchrow(
                "SELECT count(*), count(DISTINCT transaction_id) FROM decisions"
            )
        finally:
            await conn.close()
        return before, after, distinct

    def retries() -> int:
        return sum("PostgreSQL unavailable" in r.getMessage() for r in caplog.records)

    before, after, distinct = asyncio.run(drill())
    assert before == 1_500
    assert after == 3_000
    assert distinct == 3_000
