"""The suite's generated history and trained bundle, built once per content: a fixture's
output is kept under FRAUD_TEST_CACHE (default ~/.cache/fraud-engine/test-fixtures), in a
directory named by a digest of what it is built from (the code of the packages that
generate, replay and train, the locked versions, and the fixture's own settings), and
reused by every later session, or every worker of one, while that digest holds. Any
change to that code or those versions builds it again."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# What a generated history or a trained bundle depends on.
SOURCES = ("vocabulary", "synthetic", "features", "ensemble", "native/src", "native/Cargo.lock")
VERSIONS = ("requirements.lock", "pyproject.toml")


def cache_root() -> Path:
    default = Path.home() / ".cache" / "fraud-engine" / "test-fixtures"
    return Path(os.environ.get("FRAUD_TEST_CACHE", default))


def digest(settings: str) -> str:
    h = hashlib.sha256(settings.encode())
    for name in SOURCES + VERSIONS:
        path = ROOT / name
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in files:
            if file.is_file() and "__pycache__" not in file.parts:
                h.update(str(file.relative_to(ROOT)).encode())
                h.update(file.read_bytes())
    return h.hexdigest()[:16]


def built(name: str, settings: str, build: Callable[[Path], object]) -> Path:
    """The directory `build` fills, from the cache when this content was built before.
    Built in a scratch directory and renamed into place: a build that fails or is cut
    short leaves nothing, and two builders at once (pytest-xdist workers) both succeed,
    the second keeping the first's."""
    target = cache_root() / f"{name}-{digest(settings)}"
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    try:
        build(scratch)
        try:
            scratch.rename(target)
        except OSError:  # another builder got there first
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target
