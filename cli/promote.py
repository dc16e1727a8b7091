"""`fraud promote`: the challenger becomes the champion and the champion the challenger, by
exchanging the two directories (FRAUD_MODEL_DIR and FRAUD_CHALLENGER_MODEL_DIR) in one
atomic rename: no moment where either path is missing or holds half a bundle, and the
previous champion stays in shadow, ready to be promoted back (a rollback is the same
command). Every API process reading those paths puts the swap in service by its model
watch (FRAUD_MODEL_WATCH_S), or on POST /v1/admin/reload or SIGHUP.

Both bundles are loaded first, as the API loads them (schema, feature set, compiled
libraries, a smoke prediction): a bundle the API would refuse is never promoted."""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path

from ensemble.bundle import ModelBundle
from ensemble.swap import ExchangeUnsupported, exchange


class PromoteError(RuntimeError):
    """Nothing was changed."""


@dataclass(frozen=True, slots=True)
class Promoted:
    champion: str  # the version that now decides
    challenger: str  # the version now in shadow (the champion before)


def check(path: Path, role: str) -> ModelBundle:
    if not path.exists():
        raise PromoteError(f"the {role} directory {path} does not exist")
    try:
        bundle = ModelBundle.load(path)
    except Exception as exc:
        raise PromoteError(f"the {role} at {path} cannot serve: {exc}") from exc
    if not bundle.ready:
        raise PromoteError(f"the {role} at {path} is not compiled: the API would not be ready")
    return bundle


def promote(champion: Path, challenger: Path) -> Promoted:
    """Check both bundles, then exchange the directories (or symlinks) at the two paths."""
    if os.path.realpath(champion) == os.path.realpath(challenger):
        raise PromoteError(f"{champion} and {challenger} are the same bundle")
    for link in (champion, challenger):
        moved = challenger if link == champion else champion
        if (
            link.is_symlink()
            and not os.path.isabs(os.readlink(link))
            and os.path.realpath(link.parent) != os.path.realpath(moved.parent)
        ):
            raise PromoteError(
                f"{link} is a relative symlink in another directory than {moved}: exchanged, "
                "it would point elsewhere; use absolute targets or one directory"
            )
    current, shadow = check(champion, "champion"), check(challenger, "challenger")
    _exchange(champion, challenger)
    return Promoted(champion=shadow.version, challenger=current.version)


def _exchange(a: Path, b: Path) -> None:
    try:
        exchange(a, b)
    except ExchangeUnsupported as exc:
        raise PromoteError(
            f"the file system of {a} cannot exchange two names atomically ({exc.strerror}): "
            "keep the bundles on a local volume"
        ) from exc
    except OSError as exc:
        if exc.errno == errno.EXDEV:
            raise PromoteError(
                f"{a} and {b} are on different file systems: put them on one"
            ) from exc
        raise PromoteError(f"cannot exchange {a} and {b}: {exc.strerror}") from exc
