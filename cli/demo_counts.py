"""What the demo counts while it runs and at exit: the decisions the API answered, to
anyone (its own count in /metrics, so a call by hand counts too), and the rows the consumer
stored in the run's schema. The live line and the last line read the same two sources."""

from __future__ import annotations

import asyncio
import time
from contextlib import suppress

import asyncpg
import httpx

from app.metrics import scraped_total

ANSWERED = "fraud_score_latency_seconds_count"  # one observation per answer given


def answered_in(exposition: str) -> int:
    return int(scraped_total(exposition, ANSWERED))


def answered_by_api(base: str) -> int | None:
    """The decisions the API answered, to anyone, or None if it cannot be read."""
    try:
        exposition = httpx.get(f"{base}/metrics", timeout=5).raise_for_status().text
    except httpx.HTTPError:
        return None
    return answered_in(exposition)


class AnsweredCounter:
    """`answered_by_api` for the live line, on one client kept open."""

    def __init__(self, base: str) -> None:
        self._client = httpx.AsyncClient(base_url=base, timeout=2)

    async def count(self) -> int | None:
        try:
            response = await self._client.get("/metrics")
            return answered_in(response.raise_for_status().text)
        except httpx.HTTPError:
            return None

    async def close(self) -> None:
        await self._client.aclose()


class StoredCounter:
    """Rows in this run's decisions table, on one connection kept open."""

    def __init__(self, url: str, schema: str) -> None:
        self.url = url
        self.schema = schema
        self._conn: asyncpg.Connection | None = None

    async def count(self) -> int | None:
        try:
            if self._conn is None:
                self._conn = await asyncpg.connect(
                    self.url, server_settings={"search_path": self.schema}, timeout=2
                )
            return int(await self._conn.fetchval("SELECT count(*) FROM decisions"))
        except asyncpg.UndefinedTableError:
            return 0  # the consumer has not migrated yet
        except (OSError, TimeoutError, asyncpg.PostgresError):
            await self.close()
            return None

    async def close(self) -> None:
        if self._conn is not None:
            with suppress(OSError, asyncpg.PostgresError):
                await self._conn.close()
            self._conn = None


async def wait_stored(url: str, schema: str, answered: int, timeout_s: float) -> int:
    """Rows stored once they reach `answered` or time runs out."""
    counter = StoredCounter(url, schema)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            stored = await counter.count() or 0
            if stored >= answered or time.monotonic() > deadline:
                return stored
            await asyncio.sleep(0.25)
    finally:
        await counter.close()
