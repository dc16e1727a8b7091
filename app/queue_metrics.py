"""The review queue's gauges (fraud_cases_open, fraud_case_oldest_open_age_seconds), true for
every API process: computed at scrape time from PostgreSQL, the query's answer reused for
FRAUD_CASE_METRICS_CACHE_S. A scrape runs in a worker thread (the /metrics handler is
synchronous), so it waits for the query on the event loop; while PostgreSQL cannot answer
the gauges are left out of the scrape rather than reported stale."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from persistence.cases import queue_size
from persistence.database import Database

log = logging.getLogger(__name__)
QUERY_TIMEOUT_S = 2.0
OPEN = ("fraud_cases_open", "Review cases open or assigned")
OLDEST = (
    "fraud_case_oldest_open_age_seconds",
    "Age of the oldest open or assigned review case (0: none)",
)


@dataclass(frozen=True, slots=True)
class _Source:
    loop: asyncio.AbstractEventLoop
    database: Database
    cache_s: float


class QueueGauges(Collector):
    def __init__(self) -> None:
        self._source: _Source | None = None
        self._lock = threading.Lock()
        # (when, count, oldest); count None: the last query failed (not asked again either
        # before the cache expires, so a scrape never waits on a PostgreSQL that is away)
        self._answer: tuple[float, int | None, datetime | None] | None = None

    def attach(self, loop: asyncio.AbstractEventLoop, database: Database, cache_s: float) -> None:
        """Measure this process's database from now on (the API's lifespan)."""
        with self._lock:
            self._source, self._answer = _Source(loop, database, cache_s), None

    def detach(self, database: Database) -> None:
        with self._lock:
            if self._source is not None and self._source.database is database:
                self._source, self._answer = None, None

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(*OPEN)
        yield GaugeMetricFamily(*OLDEST)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        answer = self._measure()
        if answer is None or answer[1] is None:
            return
        _, count, oldest = answer
        age = 0.0 if oldest is None else max(0.0, (datetime.now(UTC) - oldest).total_seconds())
        yield GaugeMetricFamily(*OPEN, value=count)
        yield GaugeMetricFamily(*OLDEST, value=age)

    def _measure(self) -> tuple[float, int | None, datetime | None] | None:
        with self._lock:  # one query at a time; concurrent scrapes share its answer
            source = self._source
            if source is None:
                return None
            now = time.monotonic()
            if self._answer is not None and now - self._answer[0] < source.cache_s:
                return self._answer
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                pass
            else:  # on an event loop: waiting here would block the query it waits for
                return self._answer
            asked = asyncio.run_coroutine_threadsafe(self._query(source.database), source.loop)
            try:
                count, oldest = asked.result(QUERY_TIMEOUT_S)
            except Exception as exc:  # PostgreSQL away or slow: no gauges for a while
                asked.cancel()
                log.warning("review queue gauges unavailable: %r", exc)
                count, oldest = None, None
            self._answer = (now, count, oldest)
            return self._answer

    @staticmethod
    async def _query(database: Database) -> tuple[int, datetime | None]:
        async with database.connection() as conn:
            return await queue_size(conn)


QUEUE = QueueGauges()
