"""LogShipper: the audit log of this process, and those left by dead ones, to Kafka.

It reads the synced records in order from the acknowledged position, sends them
(persistence/topic_sender.py: acks=all, every record of a read acknowledged before the
next read) and moves the acknowledged position past them. The position is kept in memory
at once and written to the log's `acked` file at most every `persist_s` (and at stop):
after a crash, what was sent since the last write is sent again, and downstream is
idempotent on the transaction, so that costs a duplicate message, never a lost one.

Kafka away: records stay in the log (on disk, however many) and are sent when it is back,
oldest first. A process that starts finds its slot's unacknowledged records (those of
the process that held the slot before) and sends them first; every `scan_s` it also
looks for slots no process holds (persistence/log_slots.py) and sends what they hold.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import closing, suppress
from pathlib import Path

from persistence.audit_log import AuditLog
from persistence.log_segments import Record, SegmentedLog
from persistence.log_slots import Slot, orphans
from persistence.producer import AUDIT_EVENTS
from persistence.topic_sender import TopicSender

log = logging.getLogger(__name__)


class LogShipper:
    def __init__(
        self,
        audit_log: AuditLog,
        slot: Slot,
        root: Path,
        sender: TopicSender,
        retry_s: float = 2.0,
        persist_s: float = 0.2,
        scan_s: float = 10.0,
        linger_s: float = 0.0,
    ) -> None:
        self.log = audit_log
        self.linger_s = linger_s
        self.slot = slot
        self.root = root
        self.sender = sender
        self.retry_s = retry_s
        self.persist_s = persist_s
        self.scan_s = scan_s
        files = audit_log.files
        # Records before this position were written by an earlier process (sent again).
        self._inherited_end = files.end
        self._persisted_at = 0.0
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="audit-log-shipper")

    async def _run(self) -> None:
        await self.sender.connect()  # creates the topic at start-up; if Kafka is down, later
        loop = asyncio.get_running_loop()
        next_scan = loop.time()
        sent: int | None = 0
        while True:
            if loop.time() >= next_scan and not self._stopping.is_set():
                await self._ship_orphans()
                next_scan = loop.time() + self.scan_s
            if sent is not None and sent < self.sender.max_batch:
                await self._linger()  # not while a backlog goes, a full read at a time
            sent = await self._ship_once()
            if sent is None:  # Kafka failed: the records wait in the log
                if self._stopping.is_set():
                    return
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.retry_s)
            elif not sent:
                if self._stopping.is_set():
                    return
                await self._wait_for_records(max(0.0, next_scan - loop.time()))

    async def _linger(self) -> None:
        """Lets the records that follow join the next send (until `linger_s` has passed, or
        the shipper stops): a send to Kafka costs about as much as five records' whole
        audit path, whatever it holds (docs/performance.md)."""
        if self.linger_s > 0 and not self._stopping.is_set():
            with suppress(TimeoutError):
                async with asyncio.timeout(self.linger_s):
                    await self._stopping.wait()

    async def _wait_for_records(self, timeout_s: float) -> None:
        self.log.synced.clear()
        if self.log.files.acked < self.log.synced_end:
            return  # synced between the read and now
        stop = asyncio.ensure_future(self._stopping.wait())
        synced = asyncio.ensure_future(self.log.synced.wait())
        try:
            await asyncio.wait({stop, synced}, timeout=timeout_s, return_when="FIRST_COMPLETED")
        finally:
            stop.cancel()
            synced.cancel()

    async def _ship_once(self) -> int | None:
        """One read of this process's log sent: how many records it held (0: nothing
        waited), None if Kafka failed."""
        files = self.log.files
        start = files.acked
        recent = self.log.recent(start, self.sender.max_batch)
        shipped = (
            await self._send(files, self.log.synced_end)
            if recent is None
            else await self._send_records(*recent)
        )
        if shipped is None:
            return None
        after, count = shipped
        if after == start:
            return 0
        # Bytes before _inherited_end were logged by the process that held the slot before.
        inherited = round(count * max(0, min(after, self._inherited_end) - start) / (after - start))
        AUDIT_EVENTS.labels(self.sender.topic, "resent").inc(inherited)
        AUDIT_EVENTS.labels(self.sender.topic, "sent").inc(count - inherited)
        now = time.monotonic()
        if now - self._persisted_at >= self.persist_s:
            self._persisted_at = now
            await asyncio.to_thread(files.acknowledge, after)
        else:
            files.acknowledge(after, persist=False)
        return max(count, 1)  # a read that only skipped a corrupt range moved on too

    async def _send_records(self, records: list[Record], after: int) -> tuple[int, int] | None:
        if not await self.sender.send(records):
            return None
        return after, len(records)

    async def _send(self, files: SegmentedLog, end: int) -> tuple[int, int] | None:
        """The records from the acknowledged position (one read) sent: the position after
        them and how many they were, or None if Kafka did not take them all."""
        # On the event loop, not a thread: a read from the page cache and its decoding take
        # a fraction of a millisecond (READ_BYTES at most), while a thread holding Python's
        # GIL would keep the loop waiting for up to its switch interval (5 ms).
        records, after = files.read(files.acked, end)
        if records and not await self.sender.send(records):
            return None
        return after, len(records)

    async def _ship_orphans(self) -> None:
        """What slots no process holds still have, sent; each is then let go."""
        with closing(orphans(self.root, self.slot)) as found:
            for slot in found:
                if not SegmentedLog.holds_unacknowledged(slot.path):
                    continue
                files = await asyncio.to_thread(SegmentedLog, slot.path)
                try:
                    total = 0
                    while files.acked < files.end and not self._stopping.is_set():
                        shipped = await self._send(files, files.end)
                        if shipped is None:
                            return  # Kafka failed: the next scan tries again
                        total += shipped[1]
                        await asyncio.to_thread(files.acknowledge, shipped[0])
                finally:
                    files.close()
                if total:
                    AUDIT_EVENTS.labels(self.sender.topic, "resent").inc(total)
                    log.info("sent %d audit events a stopped process left in %s", total, slot.path)

    async def stop(self, timeout_s: float) -> None:
        """Ships what is synced (within `timeout_s`, if Kafka takes it), then closes the log,
        the producer and lets the slot go: what was not sent waits for the next process."""
        await self.log.drain()  # the last answers' sync
        self._stopping.set()
        if self._task is not None:
            await asyncio.wait({self._task}, timeout=timeout_s)
            if not self._task.done():
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)
        files = self.log.files
        with suppress(OSError):
            files.acknowledge(files.acked)  # the last position on disk
        await self.log.close()
        await self.sender.close()
        self.slot.release()
