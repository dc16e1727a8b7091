"""Two paths exchanged in one step: renameat2(RENAME_EXCHANGE) (Linux 3.15+, glibc 2.28+;
local file systems and most network ones). A bundle directory replaced this way is never
missing nor half written for a process that loads it meanwhile (an API's model watch):
`fraud train` puts a finished bundle in place with it, `fraud promote` swaps the champion
and the challenger."""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
from pathlib import Path

AT_FDCWD = -100
RENAME_EXCHANGE = 2  # linux/fs.h


class ExchangeUnsupported(OSError):
    """This system or file system cannot exchange two names atomically."""


def exchange(a: Path, b: Path) -> None:
    """Swap what the names `a` and `b` hold (directories, files or symlinks, themselves not
    followed); both must exist, on one file system. ExchangeUnsupported where the system
    cannot; OSError for anything else."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        raise ExchangeUnsupported(errno.ENOSYS, "the C library has no renameat2 (not Linux)")
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    if renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        raise ExchangeUnsupported(err, f"cannot exchange {a} and {b} atomically here")
    raise OSError(err, f"cannot exchange {a} and {b}: {os.strerror(err)}")
