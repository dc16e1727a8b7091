"""`fraud consume`: the audit topic into PostgreSQL, nothing lost, nothing doubled.

A consumer group reads batches (bounded by count and time); each batch is one
database transaction (decisions idempotent on scope and transaction_id; unparseable
messages, and events reusing a stored id for another request, to dead_letters); offsets are committed only after that transaction
commits. A crash anywhere re-delivers at most the uncommitted batch, which the
idempotent insert absorbs. Database errors are retried with backoff (jittered,
`persistence/backoff.py`), holding the batch, until PostgreSQL is back.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import CommitFailedError, IllegalStateError
from prometheus_client import Counter, Gauge

from persistence.alerts import AlertPolicy
from persistence.backoff import Backoff
from persistence.cases import REVIEW_ONLY, CasePolicy
from persistence.database import UNAVAILABLE
from persistence.kafka import stop_consumer
from persistence.migrations import upgrade
from persistence.writer import BadEvent, DeadLetter, decode, write_batch

log = logging.getLogger(__name__)
# What commit() raises when the partitions of the batch were taken away mid-batch.
LOST_ASSIGNMENT = (CommitFailedError, IllegalStateError)
CONSUMED = Counter("fraud_consumer_messages_total", "Audit messages by outcome", ["outcome"])
LAG = Gauge(
    "fraud_consumer_lag_messages",
    "Messages behind the end of the partitions this consumer holds, at its last fetch",
)


@dataclass(slots=True)
class ConsumerConfig:
    bootstrap_servers: str
    topic: str
    group_id: str
    database_url: str
    schema: str
    batch_size: int = 2_000
    batch_wait_ms: int = 200
    max_backoff_s: float = 5.0  # the first wait is 0.1 s (to 0.2 s), doubled per failure
    alerts: AlertPolicy | None = None
    cases: CasePolicy = REVIEW_ONLY  # review decisions open cases; decline by setting


def unavailable(exc: BaseException) -> bool:
    """PostgreSQL is away (wait and retry the batch), as opposed to a message's data being
    refused: asyncpg's client-side DataError (a value it cannot encode) is an InterfaceError,
    but retrying it would hold the same batch for ever."""
    return isinstance(exc, UNAVAILABLE) and not isinstance(exc, asyncpg.exceptions._base.DataError)


async def lag(consumer: AIOKafkaConsumer) -> int:
    """Messages between this consumer's position and each held partition's high watermark
    (as the last fetch saw it; a partition not fetched yet counts 0)."""
    behind = 0
    for tp in list(consumer.assignment()):
        # The group may rebalance while position() waits: a partition taken away since is
        # skipped (highwater() asserts that it is still held).
        if tp not in consumer.assignment() or (end := consumer.highwater(tp)) is None:
            continue
        try:
            behind += max(0, end - await consumer.position(tp))
        except IllegalStateError:
            continue
    return behind


class AuditConsumer:
    def __init__(self, config: ConsumerConfig) -> None:
        self.config = config
        self.written = 0
        self._backoff = Backoff(0.1, config.max_backoff_s)
        self._conn: asyncpg.Connection | None = None

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(
                self.config.database_url,
                server_settings={
                    "search_path": self.config.schema,
                    "application_name": "fraud-consume",
                },
                timeout=5,
            )
        return self._conn

    async def migrate(self) -> list[int]:
        conn = await asyncpg.connect(self.config.database_url, timeout=5)
        try:
            return await upgrade(conn, self.config.schema)
        finally:
            await conn.close()

    async def _write(
        self, rows: list[tuple[Any, ...]], sources: list[DeadLetter], dead: list[DeadLetter]
    ) -> int:
        """The batch in one transaction; PostgreSQL unavailable: retry with backoff, holding
        the batch. Any other error (a row PostgreSQL refuses, or one the driver cannot
        convert): the batch is written one message at a time, and each message that fails
        goes to dead_letters, so one message never stops the consumer."""
        self._backoff.reset()  # each batch's run of failures starts at the first delay
        while True:
            try:
                conn = await self._connection()
                try:
                    return await write_batch(
                        conn, rows, dead, self.config.alerts, self.config.cases, sources
                    )
                except Exception as exc:
                    if unavailable(exc):
                        raise
                    log.warning("batch refused (%r); writing its messages one by one", exc)
                    return await self._write_singly(conn, rows, sources, dead)
            except UNAVAILABLE as exc:
                if not unavailable(exc):
                    raise
                wait = self._backoff.next()
                log.warning("PostgreSQL unavailable (%r); retrying in %.1f s", exc, wait)
                if self._conn is not None and not self._conn.is_closed():
                    self._conn.terminate()
                self._conn = None
                await asyncio.sleep(wait)

    async def _write_singly(
        self,
        conn: asyncpg.Connection,
        rows: list[tuple[Any, ...]],
        sources: list[DeadLetter],
        dead: list[DeadLetter],
    ) -> int:
        inserted = 0
        refused = list(dead)
        for row, source in zip(rows, sources, strict=True):
            try:
                inserted += await write_batch(
                    conn, [row], [], self.config.alerts, self.config.cases, [source]
                )
            except Exception as exc:
                if unavailable(exc):
                    raise  # the whole batch is held and retried
                log.warning("message %s/%d refused: %r", source.partition, source.offset, exc)
                refused.append(source.refused(f"{type(exc).__name__}: {exc}"))
        await write_batch(conn, [], refused)
        CONSUMED.labels("dead_letter").inc(len(refused) - len(dead))
        return inserted

    async def run(self, stop: asyncio.Event | None = None, migrate: bool = True) -> None:
        """Consume until `stop` is set; migrates first unless the caller already did."""
        if migrate:
            await self.migrate()
        consumer = AIOKafkaConsumer(
            self.config.topic,
            bootstrap_servers=self.config.bootstrap_servers,
            group_id=self.config.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            # The broker answers a fetch within this time even with little data: it bounds
            # the decision-to-row lag at low rates.
            fetch_max_wait_ms=min(self.config.batch_wait_ms, 500),
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        await consumer.start()
        try:
            while stop is None or not stop.is_set():
                batches = await consumer.getmany(
                    timeout_ms=self.config.batch_wait_ms, max_records=self.config.batch_size
                )
                rows, sources, dead = [], [], []
                for tp, messages in batches.items():
                    for m in messages:
                        source = DeadLetter(tp.topic, tp.partition, m.offset, m.key, m.value, "")
                        try:
                            rows.append(decode(m.value))
                            sources.append(source)
                        except BadEvent as exc:
                            dead.append(source.refused(str(exc)))
                LAG.set(await lag(consumer))
                if not rows and not dead:
                    continue
                inserted = await self._write(rows, sources, dead)
                try:
                    await consumer.commit()  # only after the database transaction committed
                except LOST_ASSIGNMENT as exc:
                    # The group rebalanced while the batch was being written (a member
                    # joined, left or died, or the broker was away): these partitions may
                    # now be another member's, which reads from the last committed offset
                    # and finds the rows already there. Rejoin on the next fetch.
                    log.warning("offsets not committed, the group rebalanced: %r", exc)
                self.written += inserted
                CONSUMED.labels("written").inc(inserted)
                CONSUMED.labels("duplicate").inc(len(rows) - inserted)
                CONSUMED.labels("dead_letter").inc(len(dead))
        finally:
            await stop_consumer(consumer)
            if self._conn is not None:
                await self._conn.close()
