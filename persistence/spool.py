"""An append-only spool file for audit events Kafka could not take.

Record: 4-byte big-endian key length, key, 4-byte value length, value. Appends
go to the OS on every call (a crash of the process loses nothing); fsync runs
at most every `fsync_interval_s` and on close, so a power loss can lose at most
that much of the spool. A torn last record (power loss mid-write) is ignored
when reading.
"""

from __future__ import annotations

import os
import struct
import time
from pathlib import Path

_LEN = struct.Struct(">I")


class Spool:
    def __init__(self, path: Path, fsync_interval_s: float = 0.2) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.fsync_interval_s = fsync_interval_s
        self._file = path.open("ab")
        self._last_sync = time.monotonic()
        self.records = sum(1 for _ in self._iter())

    def append(self, records: list[tuple[bytes, bytes]]) -> None:
        if not records:
            return
        self._file.write(
            b"".join(_LEN.pack(len(k)) + k + _LEN.pack(len(v)) + v for k, v in records)
        )
        self._file.flush()
        self.records += len(records)
        if time.monotonic() - self._last_sync >= self.fsync_interval_s:
            os.fsync(self._file.fileno())
            self._last_sync = time.monotonic()

    def _iter(self) -> list[tuple[bytes, bytes]]:
        data = self.path.read_bytes() if self.path.exists() else b""
        out, i = [], 0
        while i + 4 <= len(data):
            (klen,) = _LEN.unpack_from(data, i)
            if i + 4 + klen + 4 > len(data):
                break
            key = data[i + 4 : i + 4 + klen]
            (vlen,) = _LEN.unpack_from(data, i + 4 + klen)
            start = i + 8 + klen
            if start + vlen > len(data):
                break
            out.append((key, data[start : start + vlen]))
            i = start + vlen
        return out

    def read(self) -> list[tuple[bytes, bytes]]:
        """Every complete record, oldest first."""
        self._file.flush()
        return self._iter()

    def clear(self) -> None:
        """Forget every record (after they were all re-sent)."""
        self._file.truncate(0)
        self._file.seek(0)
        os.fsync(self._file.fileno())
        self.records = 0

    def close(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
