"""AuditLog: the audit events of an API process made durable before their answers leave
(FRAUD_AUDIT_DURABILITY=log), with group commit.

`append` takes a computed batch's events and returns a future that is done once they are
on the disk. Writing and syncing run on a thread of their own, one sync at a time, so the
event loop keeps serving other requests meanwhile; the events appended while one sync runs
all go in the next one. Each answer so waits at most two syncs (a fraction of a
millisecond on an SSD), however many requests arrive together. The shipper
(persistence/log_shipper.py) sends the synced records to Kafka.
"""

from __future__ import annotations

import asyncio
import logging
import time
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


class AuditLog:
    def __init__(self, files: SegmentedLog) -> None:
        self.files = files
        self.synced_end = files.end  # every record before this position is on the disk
        self.synced = asyncio.Event()  # set after each sync (the shipper waits on it)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="audit-log")
        self._unsynced: list[bytes] = []
        self._waiting: list[asyncio.Future[None]] = []
        self._committing: asyncio.Task[None] | None = None

    def append(self, records: Sequence[Record]) -> asyncio.Future[None]:
        """Done once the records are on the disk; failed with an OSError if they could not
        be written there."""
        loop = asyncio.get_running_loop()
        durable: asyncio.Future[None] = loop.create_future()
        self._unsynced.append(encode(records))
        self._waiting.append(durable)
        if self._committing is None:
            self._committing = loop.create_task(self._commit(), name="audit-log-commit")
        return durable

    async def _commit(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._unsynced:
                data, waiting = b"".join(self._unsynced), self._waiting
                self._unsynced, self._waiting = [], []
                started = time.perf_counter()
                try:
                    end = await loop.run_in_executor(self._executor, self.files.append, data)
                except OSError as exc:
                    SYNCS.labels("failed").inc()
                    log.error("audit log write failed, %d batches refused: %r", len(waiting), exc)
                    for future in waiting:
                        future.set_exception(exc)
                    continue
                SYNCS.labels("done").inc()
                SYNC_SECONDS.observe(time.perf_counter() - started)
                self.synced_end = end
                self.synced.set()
                for future in waiting:
                    future.set_result(None)
        finally:
            self._committing = None

    async def drain(self) -> None:
        """Until every append so far is synced (or failed)."""
        while self._committing is not None:
            await asyncio.shield(self._committing)

    async def close(self) -> None:
        """After the last append: its sync finishes, then the files close."""
        await self.drain()
        self._executor.shutdown(wait=True)
        self.files.close()
