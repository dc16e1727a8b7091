"""Failure drills: nothing lost, nothing doubled.

- 10,000 decisions scored through a real API process end as exactly 10,000 rows, while
  the broker is paused (SIGSTOP) for 30 s and the consumer is killed (SIGKILL) in the
  middle of a batch and restarted; the API's latency during the pause stays normal.
- PostgreSQL (a cluster of the test's own) stopped and restarted under the consumer:
  it retries and catches up.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import numpy as np
import pytest
from aiokafka import AIOKafkaProducer

from app.auth import digest
from localservers import PostgresServer, TansuBroker, free_port, stop, wait_until_ready
from persistence.consumer import AuditConsumer, ConsumerConfig
from tests.audit_events import audit_bytes
from tests.integration.conftest import API_KEY
from tests.integration.test_score_api import body
from tests.pg import DATABASE_URL

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
    broker: TansuBroker, own_postgres: PostgresServer
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
        await asyncio.sleep(3)  # the consumer holds its batch and retries
        assert not task.done()
        await asyncio.to_thread(own_postgres.start)
        after = await wait_for_rows(own_postgres.url, schema, 3_000, 60)
        await asyncio.sleep(1)
        stop_consumer.set()
        await asyncio.wait_for(task, 30)
        conn = await asyncpg.connect(own_postgres.url, server_settings={"search_path": schema})
        distinct = await conn.fetchval("SELECT count(DISTINCT transaction_id) FROM decisions")
        await conn.close()
        return before, after, distinct

    before, after, distinct = asyncio.run(drill())
    assert before == 1_500
    assert after == 3_000
    assert distinct == 3_000


def fraud(*args: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`fraud <args>` in a process of its own; its log goes to FRAUD_DRILL_LOGS/<command>-<pid>.log."""
    logs = Path(env["FRAUD_DRILL_LOGS"])
    with open(logs / f"{args[0]}-{time.monotonic_ns()}.log", "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "cli.main", *args],
            env=os.environ | env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def tails(logs: Path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(logs.glob("*.log")))


async def kill_mid_batch(consumer: subprocess.Popen[bytes], timeout_s: float = 30) -> bool:
    """SIGKILL the consumer while it is inside a database transaction; True if caught there."""
    conn = await asyncpg.connect(DATABASE_URL)
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            busy = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'fraud-consume' "
                "AND state IN ('active', 'idle in transaction')"
            )
            if busy:
                consumer.kill()
                return True
            await asyncio.sleep(0.002)
        consumer.kill()
        return False
    finally:
        consumer.wait()
        await conn.close()


@pytest.mark.timeout(420)
def test_ten_thousand_decisions_survive_a_paused_broker_and_a_killed_consumer(
    broker: TansuBroker,
    redis_url: str,
    prefix: str,
    bundle_dir: Path,
    schema: str,
    tmp_path: Path,
) -> None:
    total, rate, pause_at, pause_s = 10_000, 200.0, 10.0, 30.0
    port = free_port()
    env = {
        "FRAUD_ENVIRONMENT": "test",
        "FRAUD_REDIS_URL": redis_url,
        "FRAUD_REDIS_PREFIX": prefix,
        "FRAUD_MODEL_DIR": str(bundle_dir),
        "FRAUD_API_KEYS": digest(API_KEY),
        "FRAUD_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        "FRAUD_AUDIT_PARTITIONS": "3",
        "FRAUD_SPOOL_PATH": str(tmp_path / "audit.spool"),
        "FRAUD_DATABASE_URL": DATABASE_URL,
        "FRAUD_DATABASE_SCHEMA": schema,
        "FRAUD_CONSUMER_GROUP": f"g-{schema}",
        "FRAUD_CONSUMER_BATCH_SIZE": "500",
        "FRAUD_DRILL_LOGS": str(tmp_path),
    }
    api = fraud("serve", "--host", "127.0.0.1", "--port", str(port), env=env)
    consumers = [fraud("consume", env=env)]
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_ready(base, api)
        latencies, killed = asyncio.run(
            drive(base, broker, consumers, env, total, rate, pause_at, pause_s)
        )
        rows = asyncio.run(wait_for_rows(DATABASE_URL, schema, total, 120))
        time.sleep(2)  # anything still arriving would show as an extra row

        async def final() -> tuple[int, int, set[str]]:
            conn = await asyncpg.connect(DATABASE_URL, server_settings={"search_path": schema})
            try:
                ids = {r[0] for r in await conn.fetch("SELECT transaction_id FROM decisions")}
                return (
                    int(await conn.fetchval("SELECT count(*) FROM decisions")),
                    int(await conn.fetchval("SELECT count(*) FROM decision_ids")),
                    ids,
                )
            finally:
                await conn.close()

        count, id_rows, ids = asyncio.run(final())
    finally:
        for process in [*consumers, api]:
            stop(process)
    assert killed, "the consumer was never caught inside a transaction"
    assert rows == total, tails(tmp_path)
    assert count == total
    assert id_rows == total
    assert ids == {f"d{i}" for i in range(total)}
    normal = np.percentile(latencies["normal"], 99)
    paused = np.percentile(latencies["paused"], 99)
    print(f"p99 latency: {normal:.1f} ms normal, {paused:.1f} ms with the broker paused")
    # The scoring path never waits for Kafka: the pause is not visible in the latency.
    assert paused <= max(3 * normal, 50.0), (normal, paused)


async def drive(
    base: str,
    broker: TansuBroker,
    consumers: list[subprocess.Popen[bytes]],
    env: dict[str, str],
    total: int,
    rate: float,
    pause_at: float,
    pause_s: float,
) -> tuple[dict[str, list[float]], bool]:
    """Score `total` transactions at `rate`; pause the broker for pause_s from pause_at;
    after it resumes, kill the consumer mid-batch and start another."""
    latencies: dict[str, list[float]] = {"normal": [], "paused": []}
    degraded: list[bool] = []
    paused = asyncio.Event()
    headers = {"Authorization": f"Bearer {API_KEY}"}
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with httpx.AsyncClient(
        base_url=base, headers=headers, limits=limits, timeout=10
    ) as client:

        async def one(i: int) -> None:
            tx = body(transaction_id=f"d{i}", card_id=f"card_d{i % 500}", amount=float(5 + i % 300))
            started = time.perf_counter()
            r = await client.post("/v1/score", json=tx)
            elapsed = (time.perf_counter() - started) * 1000
            assert r.status_code == 200, r.text
            degraded.append(r.json()["degraded"])
            latencies["paused" if paused.is_set() else "normal"].append(elapsed)

        async def chaos() -> bool:
            await asyncio.sleep(pause_at)
            broker.pause()
            paused.set()
            await asyncio.sleep(pause_s)
            paused.clear()
            broker.resume()
            # The spooled backlog now flows to the consumer in full batches: catch one.
            caught = await kill_mid_batch(consumers[0])
            consumers.append(fraud("consume", env=env))
            return caught

        chaos_task = asyncio.create_task(chaos())
        loop = asyncio.get_running_loop()
        start = loop.time()
        pending = set()
        for i in range(total):
            delay = start + i / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            pending.add(asyncio.create_task(one(i)))
            if len(pending) > 64:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()
        for task in asyncio.as_completed(pending):
            await task
        killed = await chaos_task
    print(f"degraded answers: {sum(degraded)} of {len(degraded)}")
    return latencies, killed
