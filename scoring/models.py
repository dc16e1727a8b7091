"""The model in service: the bundle behind load / score / ready, swapped atomically on a
reload (requests in flight keep the bundle they started with), with its drift window: a
new bundle brings its own reference, so the window starts empty beside it."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from ensemble.bundle import ModelBundle
from ensemble.drift_reference import DriftReference
from scoring import telemetry
from scoring.drift import DriftConfig, DriftWindow

log = logging.getLogger(__name__)


class ModelHolder:
    def __init__(self, path: Path, drift: DriftConfig | None = None) -> None:
        """drift: the live window's shape; None: drift is not watched (FRAUD_DRIFT=false)."""
        self.path = path
        self.bundle: ModelBundle | None = None
        # The bundle's live drift window; None without a reference or with drift off.
        self.drift: DriftWindow | None = None
        self._drift_config = drift
        self._lock = asyncio.Lock()
        telemetry.MODEL_READY.set(0)

    @property
    def ready(self) -> bool:
        return self.bundle is not None and self.bundle.ready

    @property
    def drift_watched(self) -> bool:
        """Drift is on (FRAUD_DRIFT): `drift` is then None only for a bundle without a
        reference."""
        return self._drift_config is not None

    async def reload(self) -> ModelBundle:
        async with self._lock:
            try:
                bundle = await asyncio.to_thread(ModelBundle.load, self.path)
                window = self._window(bundle)
            except Exception:
                telemetry.MODEL_RELOADS.labels("failed").inc()
                raise
            # Both at once (no await between): a batch never bins rows of one bundle
            # against the other's reference.
            self.bundle, self.drift = bundle, window
            telemetry.MODEL_RELOADS.labels("loaded").inc()
            telemetry.MODEL_READY.set(int(bundle.ready))
            log.info("model %s loaded from %s", bundle.version, self.path)
            return bundle

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
