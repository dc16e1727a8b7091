"""The alert dispatcher: delivers the alert outbox (table `alerts`) to its sinks.

Each round claims due `pending` rows (FOR UPDATE SKIP LOCKED, so several consumers can
run), sends them concurrently within each sink's rate limit (rows over the limit wait
for the next round, nothing is dropped), and records the outcome: `sent`, or another
attempt after exponential backoff, or `failed` after `max_attempts`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass

import asyncpg
import orjson
from aiolimiter import AsyncLimiter
from prometheus_client import Counter

from persistence.alerts import retry_delay_s
from persistence.backoff import Backoff
from persistence.database import UNAVAILABLE
from persistence.sinks import Sink, SinkError

log = logging.getLogger(__name__)
ALERTS = Counter("fraud_alerts_total", "Alert deliveries by sink and outcome", ["sink", "outcome"])


@dataclass(frozen=True, slots=True)
class DispatchConfig:
    rate_per_s: float = 10.0
    max_attempts: int = 8
    retry_base_s: float = 1.0
    poll_s: float = 0.5
    claim: int = 200
    send_timeout_s: float = 10.0


class AlertDispatcher:
    def __init__(
        self, sinks: Mapping[str, Sink], database_url: str, schema: str, config: DispatchConfig
    ) -> None:
        self.sinks = dict(sinks)
        self.database_url = database_url
        self.schema = schema
        self.config = config
        self.limiters = {name: AsyncLimiter(config.rate_per_s, 1.0) for name in self.sinks}
        self._conn: asyncpg.Connection | None = None

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(
                self.database_url, server_settings={"search_path": self.schema}, timeout=5
            )
        return self._conn

    async def _deliver(self, sink: str, payload: str) -> str | None:
        """None when delivered, else the error. Any error of one alert (a sink that cannot
        format it, too) is that alert's failed attempt: it never stops the dispatcher."""
        try:
            await asyncio.wait_for(
                self.sinks[sink].send(orjson.loads(payload)), self.config.send_timeout_s
            )
        except (SinkError, TimeoutError) as exc:
            return f"{type(exc).__name__}: {exc}"
        except Exception as exc:
            log.exception("alert sink %s failed on an alert", sink)
            return f"{type(exc).__name__}: {exc}".replace("\x00", "\\x00")[:2_000]
        return None

    async def run_once(self) -> int:
        """One round; returns how many deliveries were attempted."""
        conn = await self._connection()
        async with conn.transaction():
            rows = await conn.fetch(
                "SELECT scope, transaction_id, sink, payload::text AS payload, attempts FROM alerts "
                "WHERE status = 'pending' AND next_attempt_at <= now() AND sink = ANY($1) "
                "ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED",
                list(self.sinks),
                self.config.claim,
            )
            due = []
            for row in rows:
                limiter = self.limiters[row["sink"]]
                if limiter.has_capacity():
                    await limiter.acquire()
                    due.append(row)
            errors = await asyncio.gather(*(self._deliver(r["sink"], r["payload"]) for r in due))
            updates = []
            for row, error in zip(due, errors, strict=True):
                attempts = row["attempts"] + 1
                # (status stored, outcome counted, delay before the next attempt)
                if error is None:
                    status, outcome, delay = "sent", "sent", 0.0
                elif attempts >= self.config.max_attempts:
                    status, outcome, delay = "failed", "failed", 0.0
                else:
                    status, outcome = "pending", "retry"
                    delay = retry_delay_s(attempts, self.config.retry_base_s)
                ALERTS.labels(row["sink"], outcome).inc()
                if error is not None:
                    log.warning("alert %s to %s: %s", row["transaction_id"], row["sink"], error)
                updates.append(
                    (
                        row["scope"],
                        row["transaction_id"],
                        row["sink"],
                        status,
                        attempts,
                        error,
                        delay,
                    )
                )
            await conn.executemany(
                "UPDATE alerts SET status = $4, attempts = $5, last_error = $6, "
                "next_attempt_at = now() + make_interval(secs => $7), "
                "sent_at = CASE WHEN $4 = 'sent' THEN now() END "
                "WHERE scope = $1 AND transaction_id = $2 AND sink = $3",
                updates,
            )
        return len(due)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Rounds until `stop` is set: at once while there is work, every poll_s when there
        is none, and while PostgreSQL is away after a jittered backoff (0.2 s doubled up to
        5 s, never below poll_s)."""
        backoff = Backoff(0.2, 5.0)
        while stop is None or not stop.is_set():
            try:
                done = await self.run_once()
                backoff.reset()
                wait = self.config.poll_s
            except UNAVAILABLE as exc:
                log.warning("alert dispatcher: PostgreSQL unavailable (%r)", exc)
                self._conn = None
                done = 0
                wait = max(self.config.poll_s, backoff.next())
            if not done:
                await _sleep(stop, wait)
        if self._conn is not None and not self._conn.is_closed():
            await self._conn.close()


async def _sleep(stop: asyncio.Event | None, seconds: float) -> None:
    if stop is None:
        await asyncio.sleep(seconds)
        return
    with suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
