"""The files of one audit log (FRAUD_AUDIT_DURABILITY=log): append-only segments of records
and the position up to which Kafka has acknowledged them.

A directory holds one log (persistence/log_slots.py gives each API process its own):

    <base>.log  a segment; <base> (20 digits) is the log position of its first byte.
                Positions count the bytes of every segment ever written, so a position
                names one record for the whole life of the log.
    acked       the position before which Kafka has every record, in text; replaced
                whole (written aside, synced, renamed), so it is either the old or the new

Record: 4-byte big-endian length of the body, 4-byte big-endian CRC-32 of the body; the body
is a 4-byte big-endian key length, the key, the value (the Kafka record's key and value).
A short record, or one whose CRC does not match, is a torn tail (the process or the machine
died mid-write): it ends the log, and opening the log cuts it off, so that nothing is ever
appended behind it.

Appends (write, sync, rotate) come from one thread, reads and acknowledgements from
another; the list of segments is shared under a lock. Segments wholly before the
acknowledged position are deleted; the last one never is.
"""

from __future__ import annotations

import bisect
import logging
import os
import struct
import threading
import zlib
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger(__name__)
HEADER = struct.Struct(">II")  # body length, CRC-32 of the body
KEY_LENGTH = struct.Struct(">I")
Record = tuple[bytes, bytes]  # key, value
ACKED = "acked"
READ_BYTES = 256 << 10  # what one read takes at most (more for a larger record)
# Each write returns once its data is on the disk (as write + fdatasync would): one system
# call per group commit, so the log's thread takes Python's GIL back once, not twice (each
# time it may wait for the busy event loop's thread to let it go).
WRITE_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_DSYNC


def encode(records: Iterable[Record]) -> bytes:
    parts = []
    for key, value in records:
        body = KEY_LENGTH.pack(len(key)) + key + value
        parts.append(HEADER.pack(len(body), zlib.crc32(body)) + body)
    return b"".join(parts)


def decode(data: bytes | memoryview) -> tuple[list[Record], int]:
    """The complete, intact records at the start of `data`, and the bytes they take: what
    follows them is a record cut short, a torn one, or nothing."""
    view = memoryview(data)
    records: list[Record] = []
    at = 0
    while at + HEADER.size <= len(view):
        length, crc = HEADER.unpack_from(view, at)
        start, end = at + HEADER.size, at + HEADER.size + length
        if length < KEY_LENGTH.size or end > len(view):
            break
        body = view[start:end]
        if zlib.crc32(body) != crc:
            break
        (key_length,) = KEY_LENGTH.unpack_from(body)
        if KEY_LENGTH.size + key_length > length:
            break
        records.append(
            (
                bytes(body[KEY_LENGTH.size : KEY_LENGTH.size + key_length]),
                bytes(body[KEY_LENGTH.size + key_length :]),
            )
        )
        at = end
    return records, at


class SegmentedLog:
    def __init__(self, directory: Path, segment_bytes: int = 16 << 20) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.segment_bytes = segment_bytes
        self._lock = threading.Lock()
        self._bases = sorted(int(p.stem) for p in directory.glob("*.log") if p.stem.isdigit())
        acked = self._read_acked()
        if not self._bases:
            self._bases = [acked]
            self._create(acked)
        self._active_size = self._cut_torn_tail(self._bases[-1])
        self.end = self._bases[-1] + self._active_size
        # Never before the oldest record kept, never past the last one.
        self.acked = min(max(acked, self._bases[0]), self.end)
        self._fd = os.open(self._path(self._bases[-1]), WRITE_FLAGS)
        self._reading: tuple[int, int] | None = None  # (base, fd) of the segment being read
        self.broken = False
        self._forget_acknowledged()

    # --- appending (one thread) ---

    def append(self, data: bytes) -> int:
        """Writes whole records, synced to the disk; returns the new end. On an error
        the partial write is cut off again (else every later record would sit behind a torn
        one); if even that fails, the log refuses every later append."""
        if self.broken:
            raise OSError("the audit log is unusable after a failed write; restart the process")
        if self._active_size >= self.segment_bytes:
            self._rotate()
        try:
            view = memoryview(data)
            while view:  # O_DSYNC: synced when it returns
                view = view[os.write(self._fd, view) :]
        except OSError:
            try:
                os.ftruncate(self._fd, self._active_size)
            except OSError:
                self.broken = True
            raise
        self._active_size += len(data)
        self.end += len(data)
        return self.end

    def _rotate(self) -> None:
        os.close(self._fd)  # every byte of it was synced by its append
        base = self.end
        self._create(base)
        self._fd = os.open(self._path(base), WRITE_FLAGS)
        with self._lock:
            self._bases.append(base)
        self._active_size = 0

    def _create(self, base: int) -> None:
        os.close(os.open(self._path(base), os.O_WRONLY | os.O_CREAT, 0o600))
        self._sync_directory()  # the new name survives a crash

    # --- reading and acknowledging (another thread) ---

    def read(self, position: int, end: int) -> tuple[list[Record], int]:
        """Records from `position` (where a record starts) up to `end` (where one ends,
        at most the synced end), a segment at most at a time; and where the next read
        starts. A record that fails its check inside a synced range (the disk corrupted
        it) cannot be sent: the rest of its segment is skipped, and said loudly."""
        with self._lock:
            i = max(0, bisect.bisect_right(self._bases, position) - 1)
            position = max(position, self._bases[i])
            stop = end if i + 1 == len(self._bases) else min(end, self._bases[i + 1])
            base = self._bases[i]
        if position >= stop:
            return [], position
        fd = self._read_fd(base)
        wanted = stop - position
        data = os.pread(fd, min(wanted, READ_BYTES), position - base)
        records, used = decode(data)
        if not records and len(data) < wanted:  # one record larger than a read
            data = os.pread(fd, wanted, position - base)
            records, used = decode(data)
        if not records and data:
            log.error(
                "audit log %s: a corrupt record at position %d; %d bytes skipped",
                self.directory,
                position,
                stop - position,
            )
            return [], stop
        return records, position + used

    def _read_fd(self, base: int) -> int:
        if self._reading is None or self._reading[0] != base:
            if self._reading is not None:
                os.close(self._reading[1])
            self._reading = (base, os.open(self._path(base), os.O_RDONLY))
        return self._reading[1]

    def acknowledge(self, position: int, persist: bool = True) -> None:
        """Kafka has every record before `position`: remembered (on disk with `persist`),
        and the segments wholly before it deleted."""
        self.acked = position
        if persist:
            aside = self.directory / f"{ACKED}.tmp"
            with open(aside, "w") as out:
                out.write(str(position))
                out.flush()
                os.fsync(out.fileno())
            os.replace(aside, self.directory / ACKED)
            self._forget_acknowledged()

    def _forget_acknowledged(self) -> None:
        while True:
            with self._lock:
                if len(self._bases) < 2 or self._bases[1] > self.acked:
                    return
                base = self._bases.pop(0)
            if self._reading is not None and self._reading[0] == base:
                os.close(self._reading[1])
                self._reading = None
            self._path(base).unlink(missing_ok=True)

    @property
    def unacknowledged_bytes(self) -> int:
        return self.end - self.acked

    @staticmethod
    def holds_unacknowledged(directory: Path) -> bool:
        """Whether a log (not open) may hold records Kafka has not acknowledged, from the
        names and sizes of its files alone (a torn tail counts: opening cuts it off)."""
        segments = sorted((int(p.stem), p) for p in directory.glob("*.log") if p.stem.isdigit())
        if not segments:
            return False
        base, last = segments[-1]
        try:
            acked = int((directory / ACKED).read_text() or 0)
        except (FileNotFoundError, ValueError):
            acked = 0
        return acked < base + last.stat().st_size

    def close(self) -> None:
        os.close(self._fd)
        if self._reading is not None:
            os.close(self._reading[1])
            self._reading = None

    # --- files ---

    def _path(self, base: int) -> Path:
        return self.directory / f"{base:020d}.log"

    def _read_acked(self) -> int:
        try:
            return int((self.directory / ACKED).read_text() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def _cut_torn_tail(self, base: int) -> int:
        """The size of the last segment's intact records; anything after them is cut off."""
        path = self._path(base)
        data = path.read_bytes()
        _, intact = decode(data)
        if intact < len(data):
            log.warning(
                "audit log %s: %d bytes of a torn record cut off its end",
                self.directory,
                len(data) - intact,
            )
            with open(path, "r+b") as segment:
                segment.truncate(intact)
                os.fsync(segment.fileno())
        return intact

    def _sync_directory(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
