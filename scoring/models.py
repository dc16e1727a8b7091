"""The models in service: the champion bundle behind load / score / ready, and optionally a
challenger scored in its shadow (FRAUD_CHALLENGER_MODEL_DIR), swapped atomically on a
reload (requests in flight keep the bundles they started with), with the champion's drift
window: a new bundle brings its own reference, so the window starts empty beside it.

The challenger never decides and never stops the champion from serving: a challenger that
fails to load is logged and counted, and the champion serves without one until a reload
loads it. `changed()` tells whether either directory holds another bundle than the one
loaded (app/model_watch.py reloads then). A configured challenger directory that does not
exist is the usual state between challengers, not a failure: `fraud promote` swaps the two directories on the
disk every replica reads, and each replica's watch puts the swap in service."""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from ensemble.bundle import ModelBundle
from ensemble.drift_reference import DriftReference
from ensemble.manifest import MANIFEST
from scoring import telemetry
from scoring.drift import DriftConfig, DriftWindow

log = logging.getLogger(__name__)

# What a bundle directory holds, cheaply: where it leads and its manifest file's identity.
# A bundle written in place, or a directory or symlink swapped for another, changes it.
Signature = tuple[str, int, int, int] | None


def signature(path: Path) -> Signature:
    """The directory's resolved path and its manifest's inode, size and modification time;
    None without a manifest."""
    try:
        real = os.path.realpath(path)
        st = os.stat(os.path.join(real, MANIFEST))
    except OSError:
        return None
    return real, st.st_ino, st.st_size, st.st_mtime_ns


@dataclass(frozen=True, slots=True)
class Reloaded:
    champion: ModelBundle
    previous: str | None  # the champion's version before, None at the first load
    challenger: ModelBundle | None
    challenger_error: str | None  # why the configured challenger is not in service

    @property
    def versions(self) -> dict[str, str | None]:
        """What a log line of the reload names."""
        return {
            "model_version": self.champion.version,
            "challenger": None if self.challenger is None else self.challenger.version,
        }


class ModelHolder:
    def __init__(
        self,
        path: Path,
        drift: DriftConfig | None = None,
        challenger_path: Path | None = None,
    ) -> None:
        """drift: the live window's shape; None: drift is not watched (FRAUD_DRIFT=false).
        challenger_path: a second bundle to score in shadow; None: no challenger."""
        self.path = path
        self.challenger_path = challenger_path
        self.bundle: ModelBundle | None = None
        self.challenger: ModelBundle | None = None
        # The champion's live drift window; None without a reference or with drift off.
        self.drift: DriftWindow | None = None
        self._drift_config = drift
        self._signatures: tuple[Signature, Signature] = (None, None)
        self._lock = asyncio.Lock()
        telemetry.MODEL_READY.set(0)
        telemetry.CHALLENGER_LOADED.set(0)

    @property
    def ready(self) -> bool:
        return self.bundle is not None and self.bundle.ready

    @property
    def drift_watched(self) -> bool:
        """Drift is on (FRAUD_DRIFT): `drift` is then None only for a bundle without a
        reference."""
        return self._drift_config is not None

    def changed(self, seen: tuple[Signature, Signature] | None = None) -> bool:
        """Either directory holds another bundle than the one loaded from it (or a failed
        challenger's directory changed: worth another try). `seen`: the signatures just
        read (default: read now)."""
        return (self.signatures() if seen is None else seen) != self._signatures

    def signatures(self) -> tuple[Signature, Signature]:
        """The champion's and the challenger's directories' signatures now."""
        other = None if self.challenger_path is None else signature(self.challenger_path)
        return signature(self.path), other

    async def reload(self, changed_only: bool = False) -> Reloaded:
        """Load the champion, and the challenger if one is configured, then put both in
        service at once. The champion failing raises (the previous bundles keep serving); the
        challenger failing leaves the champion to serve alone (`challenger_error`).
        `changed_only` (the model watch): a bundle whose directory has not changed since it
        was loaded is kept as it is (a challenger put in place does not empty the champion's
        drift window)."""
        async with self._lock:
            # Read before loading: a change made while loading is seen by the next check.
            signatures = self.signatures()
            same = [
                changed_only and now == then
                for now, then in zip(signatures, self._signatures, strict=True)
            ]
            try:
                if same[0] and self.bundle is not None:
                    bundle, window = self.bundle, self.drift
                else:
                    bundle = await asyncio.to_thread(ModelBundle.load, self.path)
                    window = self._window(bundle)
            except Exception:
                telemetry.MODEL_RELOADS.labels("failed").inc()
                raise
            challenger: ModelBundle | None = self.challenger
            error: str | None = None
            if not (same[1] and challenger is not None):
                challenger, error = await self._load_challenger()
            previous = None if self.bundle is None else self.bundle.version
            # All at once (no await between): a batch never scores with one bundle and bins
            # against the other's reference, nor shadows with a challenger of another load.
            self.bundle, self.drift, self.challenger = bundle, window, challenger
            self._signatures = signatures
            telemetry.MODEL_RELOADS.labels("loaded").inc()
            telemetry.MODEL_READY.set(int(bundle.ready))
            telemetry.CHALLENGER_LOADED.set(int(challenger is not None))
            log.info(
                "model %s loaded from %s%s",
                bundle.version,
                self.path,
                "" if challenger is None else f", challenger {challenger.version} in shadow",
            )
            return Reloaded(bundle, previous, challenger, error)

    async def _load_challenger(self) -> tuple[ModelBundle | None, str | None]:
        if self.challenger_path is None:
            return None, None
        if not self.challenger_path.exists():  # none put there yet: the usual state
            log.info("no challenger at %s: none in shadow", self.challenger_path)
            return None, f"no bundle at {self.challenger_path}"
        try:
            challenger = await asyncio.to_thread(ModelBundle.load, self.challenger_path)
        except Exception as exc:
            telemetry.MODEL_RELOADS.labels("challenger_failed").inc()
            log.error(
                "challenger from %s not loaded, the champion serves without one: %s",
                self.challenger_path,
                exc,
            )
            return None, f"{type(exc).__name__}: {exc}"
        if not challenger.ready:
            telemetry.MODEL_RELOADS.labels("challenger_failed").inc()
            error = "not compiled (the slower fallback): shadow scoring would slow every answer"
            log.error("challenger %s not loaded: %s", challenger.version, error)
            return None, error
        return challenger, None

    def _window(self, bundle: ModelBundle) -> DriftWindow | None:
        if self._drift_config is None:
            return None
        if not bundle.manifest.drift:
            log.warning(
                "model %s has no drift reference (trained before drift was watched): "
                "drift is not exported until a bundle trained with `fraud train` since is "
                "loaded",
                bundle.version,
            )
            return None
        return self._drift_config.window(DriftReference.from_dict(bundle.manifest.drift))
