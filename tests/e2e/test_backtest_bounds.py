"""What a read key's backtest may cost, on real `fraud serve` processes with PostgreSQL
(issue 22, finding 6: one backtest drove its child to 1.1 GB, repeatably): the child stays
within FRAUD_BACKTEST_MAX_MEMORY_MB (a backtest needing more is answered 422, naming the
setting), and FRAUD_BACKTEST_CONCURRENCY bounds the backtests running over every process
of the database, not each process's. A failing backtest answers in the error envelope."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from app.auth import digest
from loadtest.bench_backtest_memory import store
from persistence.backtest_job import SLOTS
from tests.e2e.test_serve import serving
from tests.pg import DATABASE_URL

READ = f"fk_e2e_backtest_read_{uuid.uuid4().hex}"
START = datetime(2026, 10, 1, tzinfo=UTC)
DAYS = 10
# About 590 MB of address space for its child (loadtest/bench_backtest_memory.py, with the
# native kernel: a base of about 385 MB, then some 1 KB a row): past 450, within 2,048.
ROWS = 200_000
TIGHT_MB = 450
PERIOD = {
    "condition": "card_count_24h >= 3 and amount > 500",
    "action": "review",
    "since": (START + timedelta(days=DAYS / 2)).isoformat(),
    "until": (START + timedelta(days=DAYS)).isoformat(),
}


def env(schema: str, **more: str) -> dict[str, str]:
    return {
        "FRAUD_READ_API_KEYS": digest(READ),
        "FRAUD_DATABASE_URL": DATABASE_URL,
        "FRAUD_DATABASE_SCHEMA": schema,
        "FRAUD_BACKTEST_TIMEOUT_S": "300",
    } | more


def backtest(http: httpx.Client, base: str, **changes: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {READ}"}
    return http.post(f"{base}/v1/rules/backtest", json=PERIOD | changes, headers=headers)


@pytest.mark.timeout(600)
def test_a_backtest_needing_more_memory_than_its_bound_is_refused(
    bundle_dir: Path, schema: str
) -> None:
    asyncio.run(store(DATABASE_URL, schema, ROWS, START, DAYS))
    with httpx.Client(timeout=300) as http:
        with serving(bundle_dir, env=env(schema, FRAUD_BACKTEST_MAX_MEMORY_MB=str(TIGHT_MB))) as (
            base,
            _,
        ):
            refused = backtest(http, base)
            assert refused.status_code == 422, refused.text[:500]
            [error] = refused.json()["detail"]
            assert error["field"] == "body"
            assert f"FRAUD_BACKTEST_MAX_MEMORY_MB ({TIGHT_MB} MB)" in error["message"]
        with serving(bundle_dir, env=env(schema, FRAUD_BACKTEST_MAX_MEMORY_MB="2048")) as (
            base,
            _,
        ):
            done = backtest(http, base)
            assert done.status_code == 200, done.text[:500]
            assert done.json()["rows"] == ROWS // 2


async def slot_taken(schema: str) -> bool:
    conn = await asyncpg.connect(DATABASE_URL)
    try:
        held: bool = await conn.fetchval(
            "SELECT count(*) > 0 FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND objsubid = 2 AND objid = 0 "
            "AND classid::bigint = (hashtext($1)::bigint & 4294967295)",
            SLOTS + schema,
        )
        return held
    finally:
        await conn.close()


@pytest.mark.timeout(600)
def test_backtests_are_bounded_over_every_process_of_the_database(
    bundle_dir: Path, schema: str
) -> None:
    """FRAUD_BACKTEST_CONCURRENCY=1 with two processes: while one runs a backtest, the other
    answers 429 (each process used to allow its own, so N processes ran N at once)."""
    asyncio.run(store(DATABASE_URL, schema, ROWS, START, DAYS))
    shared = env(schema, FRAUD_BACKTEST_CONCURRENCY="1")
    with (
        serving(bundle_dir, env=shared) as (one, _),
        serving(bundle_dir, env=shared) as (two, _),
        httpx.Client(timeout=300) as http,
    ):
        first: list[httpx.Response] = []
        running = threading.Thread(target=lambda: first.append(backtest(http, one)))
        running.start()
        try:
            deadline = time.monotonic() + 60
            while not asyncio.run(slot_taken(schema)):
                assert running.is_alive(), first[0].text[:500]
                assert time.monotonic() < deadline, "no backtest slot was taken"
                time.sleep(0.05)
            second = backtest(http, two)
            assert second.status_code == 429, second.text[:500]
            assert second.json()["error"] == "rate_limited"
            assert "over every API process" in second.json()["detail"]
            assert "Retry-After" in second.headers
        finally:
            running.join(300)
        assert first[0].status_code == 200, first[0].text[:500]
        assert backtest(http, two).status_code == 200  # the slot is free again
