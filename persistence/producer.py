"""AuditProducer: decisions to Kafka without ever slowing the scoring path (the `memory`
durability, FRAUD_AUDIT_DURABILITY; `log` ships from a local log instead: log_shipper.py).

The request handler only calls `publish`, which puts the event on a bounded
in-memory queue (or, when the queue is full, appends it to the spool). A
background task sends batches (persistence/topic_sender.py). When Kafka fails or
is slow, the batch goes to the spool and Kafka is left alone for `retry_s`;
then the spool is re-sent, oldest first, before anything new. Downstream
writes are idempotent on transaction_id, so a batch that Kafka did take
before timing out may arrive twice, never zero times. What is still in memory
when the process is killed (SIGKILL, a crash) is lost: the `log` durability exists
for that.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import suppress

from prometheus_client import Counter

from persistence.spool import Spool
from persistence.topic_sender import Record, TopicSender

log = logging.getLogger(__name__)
AUDIT_EVENTS = Counter(
    "fraud_audit_events_total", "Events by topic and what happened to them", ["topic", "outcome"]
)


class AuditProducer:
    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        spool: Spool,
        partitions: int = 12,
        replication_factor: int = 1,
        min_insync_replicas: int = 1,
        idempotent: bool = True,
        queue_size: int = 10_000,
        linger_ms: int = 5,
        batch_bytes: int = 262_144,
        send_timeout_s: float = 5.0,
        retry_s: float = 2.0,
        send_linger_s: float = 0.0,
    ) -> None:
        self.topic = topic
        self.send_linger_s = send_linger_s
        self.spool = spool
        self.send_timeout_s = send_timeout_s
        self.retry_s = retry_s
        self.max_batch = 500
        self._queue: asyncio.Queue[Record] = asyncio.Queue(maxsize=queue_size)
        self.sender = TopicSender(
            bootstrap_servers,
            topic,
            partitions=partitions,
            replication_factor=replication_factor,
            min_insync_replicas=min_insync_replicas,
            idempotent=idempotent,
            linger_ms=linger_ms,
            batch_bytes=batch_bytes,
            send_timeout_s=send_timeout_s,
        )
        self._stopping = False
        self._stopped = asyncio.Event()  # set by stop(): a linger under way ends
        self._delivering = False
        self._down_until = 0.0
        self._task: asyncio.Task[None] | None = None

    def _count(self, outcome: str) -> Counter:
        return AUDIT_EVENTS.labels(self.topic, outcome)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="audit-producer")

    def publish(self, key: bytes, value: bytes) -> None:
        """Never blocks: the queue, or the spool when the queue is full."""
        try:
            self._queue.put_nowait((key, value))
            self._count("queued").inc()
        except asyncio.QueueFull:
            self._to_spool([(key, value)])

    def _to_spool(self, records: list[Record]) -> None:
        try:
            self.spool.append(records)
            self._count("spooled").inc(len(records))
        except OSError as exc:
            self._count("dropped").inc(len(records))
            log.error("audit spool write failed, %d events dropped: %r", len(records), exc)

    async def _run(self) -> None:
        await self.sender.connect()  # creates the topic at start-up; if Kafka is down, later
        while not self._stopping:
            try:
                async with asyncio.timeout(self.retry_s):  # no task of its own
                    batch = [await self._queue.get()]
            except TimeoutError:
                batch = []
            self._delivering = True
            try:
                if batch:
                    await self._linger()
                while len(batch) < self.max_batch and not self._queue.empty():
                    batch.append(self._queue.get_nowait())
                await self._deliver(batch)
            except asyncio.CancelledError:
                # Stopped mid-delivery: Kafka may or may not have this batch; the spool
                # keeps it (downstream writes are idempotent, a duplicate costs nothing).
                self._to_spool(batch)
                raise
            finally:
                self._delivering = False

    async def _linger(self) -> None:
        """Lets the events that follow join this send (until `send_linger_s` has passed, or
        the producer stops): a send to Kafka costs about as much as five events' whole
        audit path, whatever it holds (docs/performance.md)."""
        if self.send_linger_s > 0 and self._queue.qsize() < self.max_batch:
            with suppress(TimeoutError):
                async with asyncio.timeout(self.send_linger_s):
                    await self._stopped.wait()

    async def _deliver(self, batch: list[Record]) -> None:
        if time.monotonic() < self._down_until:
            self._to_spool(batch)
            return
        if self.spool.records:
            pending = self.spool.read()
            if await self.sender.send(pending):
                # Events spooled while re-sending (queue full) stay in the spool.
                newer = self.spool.read()[len(pending) :]
                self.spool.clear()
                self.spool.append(newer)
                self._count("resent").inc(len(pending))
                log.info("re-sent %d spooled audit events", len(pending))
            else:
                self._down_until = time.monotonic() + self.retry_s
                self._to_spool(batch)
                return
        await self._send_or_spool(batch)

    async def _send_or_spool(self, batch: list[Record]) -> None:
        if not batch:
            return
        if time.monotonic() >= self._down_until and await self.sender.send(batch):
            self._count("sent").inc(len(batch))
        else:
            self._down_until = time.monotonic() + self.retry_s
            self._to_spool(batch)

    async def stop(self) -> None:
        """Let a delivery under way finish (sent, or spooled when Kafka does not take it in
        time), flush what is queued (to Kafka if it answers, else to the spool), close."""
        self._stopping = True  # ends the loop after the delivery under way
        self._stopped.set()
        if self._task is not None:
            if self._delivering:
                await asyncio.wait({self._task}, timeout=2 * self.send_timeout_s + 1)
            self._task.cancel()  # idle on the queue, or a delivery that overran
            await asyncio.wait({self._task}, timeout=self.send_timeout_s + 1)
        left: list[Record] = []
        while not self._queue.empty():
            left.append(self._queue.get_nowait())
        await self._send_or_spool(left)
        await self.sender.close()  # what it still holds is in the spool already
        self.spool.close()
