"""A stored-history backtest's peak memory: what one `POST /v1/rules/backtest` costs the
machine (issue 22, finding 6: a read key drove a child to 1.1 GB RSS).

    .venv/bin/python loadtest/bench_backtest_memory.py [--rows 300000] [--days 10]
        [--memory-mb 0] [--runs 1]

Writes --rows decisions spread evenly over --days days into a fresh schema of
FRAUD_DATABASE_URL if it answers (else of a local PostgreSQL started for the run), dropped
at the end; then runs the backtest child the API runs (`python -m persistence.backtest_job`)
over the last half of those days (the first half is its look-back), as the API would with
FRAUD_BACKTEST_MAX_MEMORY_MB = --memory-mb (0: the setting's default), and prints its peak
resident memory (the kernel's ru_maxrss of that child), its peak address space (what the
bound counts), its wall time and its answer.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import threading
import time
from contextlib import ExitStack, suppress
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson

from app.backtests import CHILD_ENVIRONMENT, JOB, job_for
from app.schemas.score import EXAMPLE
from app.settings import Settings, get_settings
from cli.demo import ensure_server
from localservers import PostgresServer, postgres_reachable
from persistence.message_format import audit_event
from persistence.migrations import upgrade
from persistence.writer import decode, write_batch

TIERS = ("low", "low", "low", "medium", "high", "critical")
DECISIONS = {"low": "approve", "medium": "review", "high": "review", "critical": "decline"}
BATCH = 5_000


def row(i: int, at: datetime) -> tuple[Any, ...]:
    tier = TIERS[i % len(TIERS)]
    tx = f"bt{i}"
    request = dict(EXAMPLE) | {
        "transaction_id": tx,
        "timestamp": at.isoformat(),
        "card_id": f"card_{i % 40_000}",
        "merchant_id": f"m_{i % 3_000}",
        "device_id": f"dev_{i % 60_000}",
        "amount": float(1 + i % 997),
    }
    response = {
        "transaction_id": tx,
        "score": 0.1 + 0.15 * TIERS.index(tier),
        "risk_tier": tier,
        "decision": DECISIONS[tier],
        "reasons": [],
        "components": {"xgboost": 0.5, "isolation_forest": 0.4},
        "model_version": "bench",
        "degraded": False,
        "latency_ms": 1.0,
    }
    return decode(audit_event(request, orjson.dumps(response), at, "bench"))


async def store(url: str, schema: str, rows: int, start: datetime, days: float) -> None:
    conn = await asyncpg.connect(url)
    try:
        await upgrade(conn, schema)
        await conn.execute(f'SET search_path TO "{schema}"')
        step = timedelta(days=days) / rows
        for first in range(0, rows, BATCH):
            batch = [row(i, start + i * step) for i in range(first, min(rows, first + BATCH))]
            await write_batch(conn, batch, [])
    finally:
        await conn.close()


def run_child(job: dict[str, Any]) -> tuple[int, float, float, float, bytes]:
    """The child's exit status, peak RSS (MB, the kernel's count), peak address space (MB,
    sampled every 20 ms), wall time (s) and answer."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", JOB],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=os.environ | CHILD_ENVIRONMENT,
    )
    assert child.stdin is not None
    assert child.stdout is not None
    child.stdin.write(orjson.dumps(job))
    child.stdin.close()
    out: list[bytes] = []
    reader = threading.Thread(target=lambda: out.append(child.stdout.read()))  # type: ignore[union-attr]
    reader.start()
    address_space = 0.0
    while True:
        with suppress(OSError), open(f"/proc/{child.pid}/status") as status_file:
            for line in status_file:
                if line.startswith("VmPeak:"):
                    address_space = max(address_space, int(line.split()[1]) / 1024)
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)  # reaped here, with its usage
        if pid:
            break
        time.sleep(0.02)
    reader.join()
    code = os.waitstatus_to_exitcode(status)
    child.returncode = code
    elapsed = time.perf_counter() - started
    return code, usage.ru_maxrss / 1024, address_space, elapsed, out[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--days", type=float, default=10.0)
    parser.add_argument("--memory-mb", type=int, default=0)  # 0: the setting's default
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    schema = f"bench_bt_{os.getpid()}"
    start = datetime(2026, 10, 1, tzinfo=UTC)
    since = start + timedelta(days=args.days / 2)
    until = start + timedelta(days=args.days)
    with ExitStack() as stack:
        url = ensure_server(
            "PostgreSQL",
            get_settings().database_url,
            postgres_reachable,
            PostgresServer,
            stack,
            print,
        )
        try:
            began = time.perf_counter()
            asyncio.run(store(url, schema, args.rows, start, args.days))
            print(f"stored {args.rows:,} decisions in {time.perf_counter() - began:.0f} s")
            overrides: dict[str, Any] = {"database_url": url, "database_schema": schema}
            if args.memory_mb:
                overrides["backtest_max_memory_mb"] = args.memory_mb
            settings = Settings(**overrides)
            job = job_for(settings, "card_count_24h >= 3 and amount > 500", "review", since, until)
            for _ in range(args.runs):
                status, peak, space, elapsed, out = run_child(job)
                answer = orjson.loads(out) if out else {}
                print(
                    f"backtest over {args.rows // 2:,} rows (+ {args.rows // 2:,} look-back): "
                    f"exit {status}, peak RSS {peak:,.0f} MB, peak address space "
                    f"{space:,.0f} MB, {elapsed:.1f} s; "
                    f"{answer.get('hits', answer.get('message', ''))!s:.200}"
                )
        finally:
            drop_schema(url, schema)


def drop_schema(url: str, schema: str) -> None:
    async def drop() -> None:
        conn = await asyncpg.connect(url)
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()

    asyncio.run(drop())


if __name__ == "__main__":
    main()
