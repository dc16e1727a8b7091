"""AuditLog: the audit events of an API process made durable before their answers leave
(FRAUD_AUDIT_DURABILITY=log), with group commit.

`append` takes a computed batch's events and returns a future that is done once they are
on the disk. Writing and syncing run on a thread of their own, one sync at a time, so the
event loop keeps serving other requests meanwhile; the events appended while one sync runs
all go in the next one. Each answer so waits at most two syncs (a fraction of a
millisecond on an SSD), however many requests arrive together. The shipper
(persistence/log_shipper.py) sends the synced records to Kafka: those appended by this
process from a copy kept in memory (`recent`) while it is contiguous with what Kafka has,
anything else (a backlog beyond the copy's bound, an earlier process's records) read back
from the files.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from prometheus_client import Counter, Histogram

from persistence.log_segments import Record, SegmentedLog, encode

log = logging.getLogger(__name__)
SYNCS = Counter("fraud_audit_log_syncs_total", "Group commits of the audit log", ["outcome"])
SYNC_SECONDS = Histogram(
    "fraud_audit_log_sync_seconds",
    "Time to write and sync one group commit of the audit log",
    buckets=(0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5),
)
RECENT_RECORDS = 20_000  # synced records kept in memory for the shipper, at most


class AuditLog:
    def __init__(self, files: SegmentedLog) -> None:
        self.files = files
        self.synced_end = files.end  # every record before this position is on the disk
        self.synced = asyncio.Event()  # set after each sync (the shipper waits on it)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="audit-log")
        self._unsynced: list[tuple[bytes, Sequence[Record]]] = []
        self._waiting: list[asyncio.Future[None]] = []
        self._committing: asyncio.Task[None] | None = None
        # Synced batches not yet acknowledged by Kafka: (start, end, records), in order.
        self._recent: deque[tuple[int, int, Sequence[Record]]] = deque()
        self._recent_records = 0

    def append(self, records: Sequence[Record]) -> asyncio.Future[None]:
        """Done once the records are on the disk; failed with an OSError if they could not
        be written there."""
        loop = asyncio.get_running_loop()
        durable: asyncio.Future[None] = loop.create_future()
        self._unsynced.append((encode(records), records))
        self._waiting.append(durable)
        if self._committing is None:
            self._committing = loop.create_task(self._commit(), name="audit-log-commit")
        return durable

    async def _commit(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._unsynced:
                batches, waiting = self._unsynced, self._waiting
                self._unsynced, self._waiting = [], []
                data = b"".join(encoded for encoded, _ in batches)
                try:
                    end = await loop.run_in_executor(self._executor, self._write, data)
                except OSError as exc:
                    SYNCS.labels("failed").inc()
                    log.error("audit log write failed, %d batches refused: %r", len(waiting), exc)
                    for future in waiting:
                        future.set_exception(exc)
                    continue
                SYNCS.labels("done").inc()
                self._remember(end - len(data), batches)
                self.synced_end = end
                self.synced.set()
                for future in waiting:
                    future.set_result(None)
        finally:
            self._committing = None

    def _remember(self, start: int, batches: list[tuple[bytes, Sequence[Record]]]) -> None:
        if self._recent_records > RECENT_RECORDS:  # Kafka is away: the files hold them
            self._recent.clear()
            self._recent_records = 0
        for encoded, records in batches:
            self._recent.append((start, start + len(encoded), records))
            self._recent_records += len(records)
            start += len(encoded)

    def recent(self, position: int, most: int) -> tuple[list[Record], int] | None:
        """The synced records from `position` on (whole batches, about `most`) from memory,
        and the position after them; None if memory does not start there (the shipper
        then reads the files)."""
        while self._recent and self._recent[0][1] <= position:  # acknowledged already
            self._recent_records -= len(self._recent.popleft()[2])
        if not self._recent or self._recent[0][0] != position:
            return None
        records: list[Record] = []
        after = position
        for _start, end, batch in self._recent:
            if records and len(records) + len(batch) > most:
                break
            records += batch
            after = end
        return records, after

    def _write(self, data: bytes) -> int:
        """On the log's thread: the disk's own time, without the wait for the event loop."""
        started = time.perf_counter()
        end = self.files.append(data)
        SYNC_SECONDS.observe(time.perf_counter() - started)
        return end

    async def drain(self) -> None:
        """Until every append so far is synced (or failed)."""
        while self._committing is not None:
            await asyncio.shield(self._committing)

    async def close(self) -> None:
        """After the last append: its sync finishes, then the files close."""
        await self.drain()
        self._executor.shutdown(wait=True)
        self.files.close()
