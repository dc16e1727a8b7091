"""The audit topic into PostgreSQL: every decision exactly once, bad messages to dead letters."""

from __future__ import annotations

import asyncio
import os
from datetime import datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from fastapi.testclient import TestClient

from localservers import TansuBroker
from persistence.consumer import AuditConsumer, ConsumerConfig
from persistence.migrations import upgrade
from persistence.writer import DeadLetter, decode, write_batch
from tests.audit_events import audit_bytes
from tests.integration.test_score_api import body
from tests.pg import DATABASE_URL, consume_until, query
from tests.waiting import eventually


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


def test_a_batch_with_a_message_twice_and_one_postgresql_refuses_loses_nothing(
    broker: TansuBroker, schema: str
) -> None:
    """Regression: a re-sent spool can put the same event twice into one batch (it made the
    insert violate the primary key and the consumer exit). A message PostgreSQL would refuse
    (a NUL character jsonb cannot hold) goes to dead_letters; the rest of its batch is
    written."""
    twice = audit_bytes("dup1", "card_1")
    refused = audit_bytes("nul1", "card_2").replace(b'"m_004211"', b'"m\\u0000x"')

    async def produce() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
        await producer.start()
        for value in (
            twice,
            audit_bytes("ok1", "card_1"),
            twice,
            refused,
            audit_bytes("ok2", "card_3"),
        ):
            await producer.send("transactions.scored", key=b"k", value=value)
        await producer.stop()

    asyncio.run(produce())
    config = ConsumerConfig(
        broker.bootstrap, "transactions.scored", f"g-{schema}", DATABASE_URL, schema
    )
    assert asyncio.run(consume_until(config, 3, 1)) == (3, 1)
    assert sorted(r[0] for r in query(schema, "SELECT transaction_id FROM decisions")) == [
        "dup1",
        "ok1",
        "ok2",
    ]
    error = query(schema, "SELECT error FROM dead_letters")[0][0]
    assert "0x00" in error, error


def test_any_error_writing_one_row_dead_letters_that_row_and_writes_the_rest(
    schema: str,
) -> None:
    """Below the decoder: rows it would refuse, given to the writer as they are (the driver
    cannot convert them, or PostgreSQL refuses them). Each goes to dead_letters with its
    error, whatever the error; the good rows of the batch are written; nothing is raised.
    An OverflowError from one such row used to escape the consume loop for good."""
    good = decode(audit_bytes("fine1", "card_1"))
    again = decode(audit_bytes("fine2", "card_2"))

    def changed(tx: str, column: int, value: object) -> tuple[Any, ...]:
        row = list(decode(audit_bytes(tx, "card_x")))
        row[column] = value
        return tuple(row)

    overflowing = datetime.fromisoformat("9999-12-31T23:59:59-14:00")  # year 10000 in UTC
    bad = {
        "OverflowError": changed("b1", 2, overflowing),
        "TypeError": changed("b2", 3, 123),  # card_id a number
        "TypeError ": changed("b3", 6, "12.50"),  # amount text
        "ProgramLimitExceededError": changed("b4", 3, os.urandom(3_000).hex()),  # too big to index
        "CharacterNotInRepertoireError": changed("b5", 3, "a\x00b"),
        "InvalidTextRepresentationError": changed("b6", 15, "{not json"),
    }
    rows = [good, *bad.values(), again]
    sources = [
        DeadLetter("transactions.scored", 0, offset, b"k", b"v", "") for offset in range(len(rows))
    ]
    config = ConsumerConfig("127.0.0.1:9", "transactions.scored", "g", DATABASE_URL, schema)

    async def write() -> int:
        consumer = AuditConsumer(config)
        await consumer.migrate()
        try:
            return await consumer._write(rows, sources, [])
        finally:
            if consumer._conn is not None:
                await consumer._conn.close()

    assert asyncio.run(write()) == 2
    assert sorted(r[0] for r in query(schema, "SELECT transaction_id FROM decisions")) == [
        "fine1",
        "fine2",
    ]
    errors = [r[0] for r in query(schema, 'SELECT error FROM dead_letters ORDER BY "offset"')]
    assert [e.split(":")[0] for e in errors] == [name.strip() for name in bad]


def test_the_same_decision_twice_in_one_batch_is_one_row(schema: str) -> None:
    row = decode(audit_bytes("dup2", "card_1"))

    async def write() -> int:
        conn = await asyncpg.connect(DATABASE_URL)
        try:
            await upgrade(conn, schema)
            await conn.execute(f'SET search_path TO "{schema}"')
            return await write_batch(conn, [row, row], [])
        finally:
            await conn.close()

    assert asyncio.run(write()) == 1


def test_two_writers_creating_the_same_days_partition_at_once_both_succeed(schema: str) -> None:
    """Two consumers of one group write their first batches of a new day together: both
    create the day's partition. Unguarded, CREATE TABLE IF NOT EXISTS failed in one of them
    with DuplicateTableError (caught by the two-consumer Kafka drill)."""

    async def race() -> list[int]:
        setup = await asyncpg.connect(DATABASE_URL)
        await upgrade(setup, schema)
        await setup.close()
        conns = [
            await asyncpg.connect(DATABASE_URL, server_settings={"search_path": schema})
            for _ in range(2)
        ]
        try:
            written = []
            for day in range(6):  # six new days, each a race
                rows = [
                    decode(audit_bytes(f"race{day}_{i}", "card_1", minutes=1440 * day))
                    for i in range(2)
                ]
                written += await asyncio.gather(
                    *(write_batch(conn, [row], []) for conn, row in zip(conns, rows, strict=True))
                )
            return written
        finally:
            for conn in conns:
                await conn.close()

    assert asyncio.run(race()) == [1] * 12


def test_the_consumer_stops_cleanly_when_the_broker_is_gone(
    broker: TansuBroker, schema: str
) -> None:
    # Ctrl-C in a terminal stops the broker and the consumer together (`make demo`). aiokafka
    # then lets a CancelledError of its own out of consumer.stop() when a fetch was backing
    # off (aio-libs/aiokafka#647): the consumer must still stop, without an error.
    async def run() -> int:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
        await producer.start()
        await producer.send_and_wait("transactions.scored", value=audit_bytes("gone1", "c1"))
        await producer.stop()
        consumer = AuditConsumer(
            ConsumerConfig(
                broker.bootstrap, "transactions.scored", f"g-{schema}", DATABASE_URL, schema
            )
        )
        stop = asyncio.Event()
        task = asyncio.create_task(consumer.run(stop))
        deadline = asyncio.get_running_loop().time() + 30
        while consumer.written < 1:  # joined the group and fetching
            assert asyncio.get_running_loop().time() < deadline, "nothing consumed"
            await asyncio.sleep(0.1)
        broker.stop()
        # The behaviour under test takes time: fetches fail and back off, again and again.
        await asyncio.sleep(1.0)
        stop.set()
        await asyncio.wait_for(task, 30)
        # Nothing of aiokafka's left running (its client's metadata task would retry forever).
        await eventually(
            lambda: asyncio.all_tasks() == {asyncio.current_task()}, "aiokafka's tasks ended"
        )
        return consumer.written

    assert asyncio.run(run()) == 1
