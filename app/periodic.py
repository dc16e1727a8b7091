"""A background step of the API process, run at start and then every interval (sooner when
woken), until the process stops: the rule and list syncs. Stopping lets a step in progress
finish (for a bounded time) rather than cancel it half-way through a connection.

While its server is away a step is retried less and less often (the interval doubled per
failure, up to MAX_BACKOFF_S, jittered by `persistence/backoff.py`): every replica of a
scaled-out API polling a database that is down or restarting at the full rate (the rule
sync's is four times a second, each attempt a new connection) costs each process CPU for
nothing and the database a storm of connection attempts as it comes back (the jitter keeps
replicas that failed together from retrying together). A wake-up (`soon`) still runs the
step at once."""

from __future__ import annotations

import asyncio
import logging
import random
from contextlib import suppress

from persistence.backoff import delay

log = logging.getLogger(__name__)
STOP_WAIT_S = 3.0
MAX_BACKOFF_S = 5.0


def retry_delay(interval_s: float, failures: int, rng: random.Random | None = None) -> float:
    """How long to wait before the next step after `failures` failed steps in a row: the
    interval, doubled per failure up to MAX_BACKOFF_S (never below the interval). With `rng`,
    a draw between that and the next doubling (up to MAX_BACKOFF_S): never sooner."""
    if failures <= 0:
        return interval_s
    return max(interval_s, delay(failures, 2 * interval_s, MAX_BACKOFF_S, rng=rng))


class Periodic:
    name = "periodic step"
    # What a step may meet while a server is away: logged once, until a step works again.
    EXPECTED: tuple[type[BaseException], ...] = (OSError, TimeoutError)

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._wake = asyncio.Event()
        self._stopping = False
        self._failures = 0  # failed steps in a row
        self._rng = random.Random()
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
                if self._failures:
                    log.warning("%s works again", self.name)
                self._failures = 0
            except self.EXPECTED as exc:
                if not self._failures:
                    log.warning(
                        "%s failed, retrying every %g s, then less often up to every %g s: %r",
                        self.name,
                        self.interval_s,
                        max(self.interval_s, MAX_BACKOFF_S),
                        exc,
                    )
                self._failures += 1
            except Exception:
                log.exception("%s failed", self.name)
            with suppress(TimeoutError):
                async with asyncio.timeout(retry_delay(self.interval_s, self._failures, self._rng)):
                    await self._wake.wait()
            self._wake.clear()
