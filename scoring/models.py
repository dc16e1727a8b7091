"""The model in service: the bundle behind load / score / ready, swapped atomically on a
reload (requests in flight keep the bundle they started with)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from ensemble.bundle import ModelBundle
from scoring import telemetry

log = logging.getLogger(__name__)


class ModelHolder:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.bundle: ModelBundle | None = None
        self._lock = asyncio.Lock()
        telemetry.MODEL_READY.set(0)

    @property
    def ready(self) -> bool:
        return self.bundle is not None and self.bundle.ready

    async def reload(self) -> ModelBundle:
        async with self._lock:
            try:
                bundle = await asyncio.to_thread(ModelBundle.load, self.path)
            except Exception:
                telemetry.MODEL_RELOADS.labels("failed").inc()
                raise
            self.bundle = bundle
            telemetry.MODEL_RELOADS.labels("loaded").inc()
            telemetry.MODEL_READY.set(int(bundle.ready))
            log.info("model %s loaded from %s", bundle.version, self.path)
            return bundle
