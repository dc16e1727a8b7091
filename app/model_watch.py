"""Each API process puts a new bundle in service once its directory holds one: `fraud
promote` swaps the champion's and the challenger's directories on the disk the replicas
share (a volume), a deploy moves a symlink, and every replica's watch reloads within
FRAUD_MODEL_WATCH_S, through the same reload as POST /v1/admin/reload and SIGHUP.

A bundle that fails to load is tried again only once its directory changes again (the
previous bundles keep serving; the failure is logged once, not every interval)."""

from __future__ import annotations

import logging

from app import logs
from app.periodic import Periodic
from scoring.models import ModelHolder, Signature

log = logging.getLogger(__name__)


class ModelWatch(Periodic):
    name = "model watch"

    def __init__(self, models: ModelHolder, interval_s: float) -> None:
        super().__init__(interval_s)
        self.models = models
        # The directories' signatures whose load failed: not tried again until they change.
        self._failed: tuple[Signature, Signature] | None = None
        self.reloads = 0

    async def step(self) -> None:
        seen = self.models.signatures()
        if not self.models.changed(seen) or seen == self._failed:
            return
        try:
            reloaded = await self.models.reload(changed_only=True)
        except Exception:
            self._failed = seen
            logs.admin_action("reload", None, outcome="failed", by="watch")
            log.exception(
                "the model directory changed and its bundle did not load; still serving the previous model"
            )
            return
        self._failed = None
        self.reloads += 1
        logs.admin_action("reload", None, outcome="done", by="watch", **reloaded.versions)
