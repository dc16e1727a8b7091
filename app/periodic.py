"""A background step of the API process, run at start and then every interval (sooner when
woken), until the process stops: the rule and list syncs. Stopping lets a step in progress
finish (for a bounded time) rather than cancel it half-way through a connection."""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

log = logging.getLogger(__name__)
STOP_WAIT_S = 3.0


class Periodic:
    name = "periodic step"
    # What a step may meet while a server is away: logged once, until a step works again.
    EXPECTED: tuple[type[BaseException], ...] = (OSError, TimeoutError)

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._wake = asyncio.Event()
        self._stopping = False
        self._failing = False
        self._task: asyncio.Task[None] | None = None

    async def step(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    def soon(self) -> None:
        """Run the step now (this process just changed what it reads)."""
        self._wake.set()

    async def stop(self) -> None:
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), STOP_WAIT_S)
        except TimeoutError:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
        self._task = None

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await self.step()
                if self._failing:
                    log.warning("%s works again", self.name)
                self._failing = False
            except self.EXPECTED as exc:
                if not self._failing:
                    log.warning(
                        "%s failed, retrying every %g s: %r", self.name, self.interval_s, exc
                    )
                self._failing = True
            except Exception:
                log.exception("%s failed", self.name)
            with suppress(TimeoutError):
                async with asyncio.timeout(self.interval_s):
                    await self._wake.wait()
            self._wake.clear()
