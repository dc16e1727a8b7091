"""AuditLog: the audit events of an API process made durable before their answers leave
(FRAUD_AUDIT_DURABILITY=log), with group commit.

`append` takes a computed batch's events and a callback, called on the event loop once
they are on the disk. Writing and syncing run on a thread of their own, one sync at a time, so the
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
import concurrent.futures
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
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


# Called on the event loop once an append is on the disk (None) or could not be (the error).
Synced = Callable[[OSError | None], None]


class AuditLog:
    def __init__(self, files: SegmentedLog) -> None:
        self.files = files
        self.synced_end = files.end  # every record before this position is on the disk
        self.synced = asyncio.Event()  # set after each sync (the shipper waits on it)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="audit-log")
        self._unsynced: list[tuple[bytes, Sequence[Record], Synced]] = []
        self._writing = False
        self._idle = asyncio.Event()  # no write in flight
        self._idle.set()
        # Synced batches not yet acknowledged by Kafka: (start, end, records), in order.
        self._recent: deque[tuple[int, int, Sequence[Record]]] = deque()
        self._recent_records = 0

    def append(self, records: Sequence[Record], synced: Synced) -> None:
        """`synced` is called once the records are on the disk, or could not be written."""
        self._unsynced.append((encode(records), records, synced))
        if not self._writing:
            self._write_next()

    def _write_next(self) -> None:
        batches, self._unsynced = self._unsynced, []
        data = b"".join(encoded for encoded, _, _ in batches)
        self._writing = True
        self._idle.clear()
        loop = asyncio.get_running_loop()
        written = self._executor.submit(self._write, data)
        # Straight back to the loop from the thread: no task to resume in between, each
        # hop of the loop being one more wait behind whatever it is running.
        written.add_done_callback(
            lambda done: loop.call_soon_threadsafe(self._written, done, batches, len(data))
        )

    def _written(
        self,
        written: concurrent.futures.Future[int],
        batches: list[tuple[bytes, Sequence[Record], Synced]],
        size: int,
    ) -> None:
        self._writing = False
        raised = written.exception()
        error = raised if isinstance(raised, OSError) or raised is None else OSError(repr(raised))
        if error is None:
            SYNCS.labels("done").inc()
            end = written.result()
            self._remember(end - size, batches)
            self.synced_end = end
            self.synced.set()
        else:
            SYNCS.labels("failed").inc()
            log.error("audit log write failed, %d batches refused: %r", len(batches), error)
        for _, _, synced in batches:
            synced(error)
        if self._unsynced:
            self._write_next()
        else:
            self._idle.set()

    def _remember(self, start: int, batches: list[tuple[bytes, Sequence[Record], Synced]]) -> None:
        if self._recent_records > RECENT_RECORDS:  # Kafka is away: the files hold them
            self._recent.clear()
            self._recent_records = 0
        for encoded, records, _ in batches:
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
        await self._idle.wait()

    async def close(self) -> None:
        """After the last append: its sync finishes, then the files close."""
        await self.drain()
        self._executor.shutdown(wait=True)
        self.files.close()
