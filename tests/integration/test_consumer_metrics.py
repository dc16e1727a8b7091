"""`fraud consume`'s own metrics on a real broker and PostgreSQL: how far behind the topic
it is (fraud_consumer_lag_messages) and the rows it writes, served on
FRAUD_CONSUMER_METRICS_PORT for Prometheus."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from app.metrics import scraped_total
from localservers import TansuBroker, free_port, stop
from persistence.consumer import lag
from tests.audit_events import audit_bytes
from tests.pg import DATABASE_URL

TOPIC = "transactions.scored"


async def produce(bootstrap: str, values: list[bytes]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(TOPIC, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for n, value in enumerate(values):
            await producer.send_and_wait(TOPIC, key=f"k{n}".encode(), value=value)
    finally:
        await producer.stop()


def test_lag_counts_the_messages_behind_the_position(broker: TansuBroker, schema: str) -> None:
    asyncio.run(produce(broker.bootstrap, [audit_bytes(f"lag{i}", "card_l") for i in range(5)]))

    async def read() -> list[int]:
        consumer = AIOKafkaConsumer(
            TOPIC,
            bootstrap_servers=broker.bootstrap,
            group_id=f"g-{schema}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            seen: list[int] = [await lag(consumer)]  # nothing fetched yet: 0
            got = 0
            while got < 2:
                batch = await consumer.getmany(timeout_ms=500, max_records=2 - got)
                got += sum(len(m) for m in batch.values())
            seen.append(await lag(consumer))
            while got < 5:
                batch = await consumer.getmany(timeout_ms=500)
                got += sum(len(m) for m in batch.values())
            seen.append(await lag(consumer))
            return seen
        finally:
            await consumer.stop()

    assert asyncio.run(read()) == [0, 3, 0]


def test_fraud_consume_serves_rows_written_and_lag_on_its_metrics_port(
    broker: TansuBroker, schema: str, tmp_path: Path
) -> None:
    asyncio.run(produce(broker.bootstrap, [audit_bytes(f"m{i}", f"card_{i}") for i in range(7)]))
    port = free_port()
    env = os.environ | {
        "FRAUD_ENVIRONMENT": "test",
        "FRAUD_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        "FRAUD_DATABASE_URL": DATABASE_URL,
        "FRAUD_DATABASE_SCHEMA": schema,
        "FRAUD_CONSUMER_GROUP": f"g-{schema}",
        "FRAUD_CONSUMER_METRICS_PORT": str(port),
    }
    log = tmp_path / "consume.log"
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "consume"], env=env, stdout=out, stderr=out
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, "the metrics never showed 7 rows written"
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            except httpx.HTTPError:
                text = ""
            written = sum(
                float(line.rsplit(" ", 1)[1])
                for line in text.splitlines()
                if line.startswith('fraud_consumer_messages_total{outcome="written"}')
            )
            if written == 7:
                break
            time.sleep(0.3)
        assert scraped_total(text, "fraud_consumer_lag_messages") == 0
    finally:
        stop(process)
    assert process.returncode == 0, log.read_text(errors="replace")
