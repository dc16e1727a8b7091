"""The audit topic into PostgreSQL: every decision exactly once, bad messages to dead letters."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from fastapi.testclient import TestClient

from persistence.consumer import AuditConsumer, ConsumerConfig
from tests.integration.test_score_api import body
from tests.servers import TansuBroker

# The machine's PostgreSQL (trust auth); each test works in a schema of its own and drops it.
DATABASE_URL = os.environ.get(
    "FRAUD_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
def schema() -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:10]}"
    yield name

    async def drop() -> None:
        conn = await asyncpg.connect(DATABASE_URL)
        await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        await conn.close()

    asyncio.run(drop())


async def consume_until(
    config: ConsumerConfig, rows: int, dead: int, timeout_s: float = 30
) -> tuple[int, int]:
    consumer = AuditConsumer(config)
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    conn = None
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            await asyncio.sleep(0.3)
            if conn is None:
                try:
                    conn = await asyncpg.connect(
                        DATABASE_URL, server_settings={"search_path": config.schema}
                    )
                    await conn.fetchval("SELECT count(*) FROM decisions")
                except (asyncpg.UndefinedTableError, OSError):
                    conn = None
                    continue
            counts = (
                await conn.fetchval("SELECT count(*) FROM decisions"),
                await conn.fetchval("SELECT count(*) FROM dead_letters"),
            )
            if counts == (rows, dead):
                break
        await asyncio.sleep(1)  # anything still arriving would show as an extra row
        return (
            (
                await conn.fetchval("SELECT count(*) FROM decisions"),
                await conn.fetchval("SELECT count(*) FROM dead_letters"),
            )
            if conn
            else (0, 0)
        )
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        if conn is not None:
            await conn.close()


def test_decisions_land_exactly_once_and_bad_messages_in_dead_letters(
    broker: TansuBroker, schema: str, audited_client: TestClient
) -> None:
    for i in range(300):
        answer = audited_client.post(
            "/v1/score", json=body(transaction_id=f"db{i}", card_id=f"card_{i % 11}")
        )
        assert answer.status_code == 200

    async def poison() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
        await producer.start()
        await producer.send_and_wait("transactions.scored", key=b"x", value=b"{not json")
        await producer.send_and_wait("transactions.scored", key=b"y", value=b'{"schema": 99}')
        await producer.stop()

    asyncio.run(poison())
    config = ConsumerConfig(
        broker.bootstrap, "transactions.scored", f"g-{schema}", DATABASE_URL, schema, batch_size=128
    )
    assert asyncio.run(consume_until(config, 300, 2)) == (300, 2)
    # A second group reads everything again (a crash before the offset commit looks the same):
    # the idempotent insert keeps exactly one row per transaction.
    again = ConsumerConfig(
        broker.bootstrap, "transactions.scored", f"g2-{schema}", DATABASE_URL, schema
    )
    assert asyncio.run(consume_until(again, 300, 2, timeout_s=8)) == (300, 2)

    async def check() -> None:
        conn = await asyncpg.connect(DATABASE_URL, server_settings={"search_path": schema})
        row = await conn.fetchrow("SELECT * FROM decisions WHERE transaction_id = 'db7'")
        assert row["card_id"] == "card_7"
        assert row["risk_tier"] in {"low", "medium", "high", "critical"}
        assert await conn.fetchval("SELECT count(DISTINCT transaction_id) FROM decisions") == 300
        # Rows sit in day partitions, not in the default one.
        where = {
            r[0]
            for r in await conn.fetch("SELECT DISTINCT tableoid::regclass::text FROM decisions")
        }
        assert where
        assert all(name.startswith("decisions_2") for name in where), where
        await conn.close()

    asyncio.run(check())
