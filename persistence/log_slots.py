"""One audit log per API process, under one directory (FRAUD_AUDIT_LOG_DIR) they share.

Two processes must never append to one log, yet every process of a host (`fraud serve
--workers N`, or a pod's restarted container) is configured with the same directory. So
the directory holds numbered slots, `0/`, `1/`, ..., each one log, and a process owns the
first slot whose `lock` file it can lock (flock, exclusive, not waiting). The kernel
releases the lock when the process dies, however it dies (SIGKILL included), so:

- a process started after one died takes the lowest free slot, usually the dead one's,
  and ships what that log still holds before its own new records;
- a slot left by a process that nobody replaced (fewer workers after a restart) is an
  orphan: any running process locks it (`orphans`), ships what it holds, and lets it go.

Slots are never removed (a lock file that disappears under a process that opened it would
let two processes own one slot); an emptied slot is a directory with two small files.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

MAX_SLOTS = 4_096  # far beyond any number of processes on one host


@dataclass
class Slot:
    path: Path
    _lock_fd: int

    def release(self) -> None:
        if self._lock_fd >= 0:
            os.close(self._lock_fd)  # the lock goes with it
            self._lock_fd = -1


def _try_lock(path: Path) -> Slot | None:
    path.mkdir(parents=True, exist_ok=True)
    fd = os.open(path / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return Slot(path, fd)


def claim(directory: Path) -> Slot:
    """The first slot no living process owns, now this process's for its life."""
    for number in range(MAX_SLOTS):
        slot = _try_lock(directory / str(number))
        if slot is not None:
            return slot
    raise RuntimeError(f"all {MAX_SLOTS} audit log slots under {directory} are in use")


def orphans(directory: Path, own: Slot) -> Generator[Slot, None, None]:
    """Every other slot that no living process owns, locked in turn: the caller ships what
    it holds, then releases it (also when it stops early)."""
    if not directory.is_dir():
        return
    numbered = sorted(
        (p for p in directory.iterdir() if p.name.isdigit() and p.is_dir()),
        key=lambda p: int(p.name),
    )
    for path in numbered:
        if path == own.path:
            continue
        slot = _try_lock(path)
        if slot is None:
            continue
        try:
            yield slot
        finally:
            slot.release()
