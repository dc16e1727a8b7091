"""The consumer's sustained rows per second into PostgreSQL, and the lag from decision to
row at the API's peak rate.

    .venv/bin/python loadtest/bench_persistence.py [--rows 200000] [--rate 1400] [--seconds 20]

Starts its own tansu broker; writes into a fresh schema of FRAUD_DATABASE_URL if it
answers (else of a local PostgreSQL started for the run), dropped at the end. Events are real audit events
(persistence/message_format.py) produced by this script.

1. Backlog: --rows events are produced first (not timed), then one `fraud consume`-style
   consumer (in this process) drains them; rows/s = rows / time to the last row.
2. Live: events are produced at --rate per second (the API's measured peak) for --seconds
   while the consumer runs; lag = stored_at - scored_at of each row (p50 / p99 / max).
3. Size: what one stored decision takes on disk (its tables and indexes, divided by the
   rows) and the WAL the backlog's drain wrote per row (the capacity plan's inputs).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime

import asyncpg
import numpy as np
import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from app.schemas.score import EXAMPLE
from app.settings import get_settings
from cli.demo import ensure_server
from localservers import PostgresServer, free_port, postgres_reachable, start_tansu, stop
from persistence.consumer import AuditConsumer, ConsumerConfig
from persistence.message_format import audit_event

RESPONSE = {
    "score": 0.12,
    "risk_tier": "low",
    "decision": "approve",
    "reasons": [],
    "components": {"xgboost": 0.1, "isolation_forest": 0.3},
    "model_version": "bench",
    "degraded": False,
    "latency_ms": 1.8,
}


def event(i: int, run: str) -> tuple[bytes, bytes]:
    tx = f"{run}-{i}"
    card = f"card_{i % 50_000}"
    request = dict(EXAMPLE) | {"transaction_id": tx, "card_id": card, "amount": float(1 + i % 997)}
    body = orjson.dumps(RESPONSE | {"transaction_id": tx})
    return card.encode(), audit_event(request, body, datetime.now(UTC), "bench")


async def make_topic(bootstrap: str, topic: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(topic, num_partitions=partitions, replication_factor=1)]
        )
    finally:
        await admin.close()


async def produce(
    bootstrap: str, topic: str, first: int, count: int, run: str, rate: float | None
) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=262_144
    )
    await producer.start()
    try:
        loop = asyncio.get_running_loop()
        start = loop.time()
        for i in range(first, first + count):
            if rate is not None and (i - first) % 50 == 0:
                delay = start + (i - first) / rate - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            key, value = event(i, run)
            await producer.send(topic, key=key, value=value)
        await producer.flush()
    finally:
        await producer.stop()


async def bench(args: argparse.Namespace, bootstrap: str, url: str, schema: str) -> None:
    topic, run = "transactions.scored", uuid.uuid4().hex[:6]
    await make_topic(bootstrap, topic, 12)
    t0 = time.perf_counter()
    await produce(bootstrap, topic, 0, args.rows, run, None)
    print(f"produced {args.rows:,} events in {time.perf_counter() - t0:.1f} s (not timed)")

    config = ConsumerConfig(bootstrap, topic, f"bench-{run}", url, schema, batch_size=args.batch)
    consumer = AuditConsumer(config)
    await consumer.migrate()
    stop_event = asyncio.Event()
    wal_conn = await asyncpg.connect(url)
    wal_before = await wal_conn.fetchval("SELECT pg_current_wal_lsn()")
    started = time.perf_counter()
    task = asyncio.create_task(consumer.run(stop_event))
    # The consumer's own count of committed rows: polling the table would load the database.
    while (first := consumer.written) == 0:
        await asyncio.sleep(0.005)
    t0 = time.perf_counter()
    while (found := consumer.written) < args.rows:
        await asyncio.sleep(0.005)
    drained = time.perf_counter() - t0
    wal = await wal_conn.fetchval(
        "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)", wal_before
    )
    await wal_conn.close()
    print(
        f"backlog: joined the group and wrote its first batch in {t0 - started:.1f} s; then "
        f"{found - first:,} rows in {drained:.2f} s = {(found - first) / drained:,.0f} rows/s "
        f"(batch {args.batch:,}, one consumer process)"
    )

    live = int(args.rate * args.seconds)
    t0 = time.perf_counter()
    await produce(bootstrap, topic, args.rows, live, run, args.rate)
    sent = time.perf_counter() - t0
    while consumer.written < args.rows + live:
        await asyncio.sleep(0.05)
    stop_event.set()
    await task
    conn = await asyncpg.connect(url, server_settings={"search_path": schema})
    lags = np.array(
        [
            r[0]
            for r in await conn.fetch(
                "SELECT extract(epoch FROM stored_at - scored_at) * 1000 FROM decisions "
                "ORDER BY scored_at OFFSET $1",
                args.rows,
            )
        ],
        dtype=float,
    )
    size = await conn.fetchval(
        "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = $1 AND c.relkind = 'r'",
        schema,
    )
    stored = await conn.fetchval("SELECT count(*) FROM decisions")
    await conn.close()
    print(
        f"size: {size / stored:,.0f} bytes per stored decision (every table and index of the"
        f" schema / {stored:,} rows); the backlog's drain wrote {float(wal) / args.rows:,.0f}"
        " bytes of WAL per row"
    )
    print(
        f"live: {live:,} events at {live / sent:,.0f}/s for {sent:.1f} s; decision-to-row lag "
        f"p50 {np.percentile(lags, 50):.0f} ms, p99 {np.percentile(lags, 99):.0f} ms, "
        f"max {lags.max():.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=2_000)
    parser.add_argument("--rate", type=float, default=1_400.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    schema = f"bench_{os.getpid()}"
    port = free_port()
    with ExitStack() as stack:
        url = ensure_server(
            "PostgreSQL",
            get_settings().database_url,
            postgres_reachable,
            PostgresServer,
            stack,
            print,
        )
        broker = start_tansu(port)
        try:
            asyncio.run(bench(args, f"127.0.0.1:{port}", url, schema))
        finally:
            stop(broker)
            drop_schema(url, schema)


def drop_schema(url: str, schema: str) -> None:

    async def drop() -> None:
        conn = await asyncpg.connect(url)
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()

    asyncio.run(drop())


if __name__ == "__main__":
    main()
