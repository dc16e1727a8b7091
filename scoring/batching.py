"""Two stages, each coalescing concurrent requests:

- store: requests waiting are sent to the store as one batch (one round trip), several
  batches in flight, so a request never waits for another batch's round trip;
- compute: one worker scores, in one features pass and one model call, every request
  whose windows have arrived since it last ran. The compute step's fixed cost (a
  millisecond or so of numpy calls, whatever the batch size) is then paid once per
  busy moment instead of once per round trip; at light load it runs per request.

When both stages are idle (nothing queued, read or waiting to compute), a request runs
them itself, in its caller's task (`run_now`): at light load every batch holds one
request, and handing it from the caller to the store worker, to a batch task, to the
compute worker and back cost more than the request's own work (each hand-off is a turn
of the event loop, and at 50 requests a second each turn finds the caches cold).

What each stage does is given to the Batcher; it only schedules them.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import suppress
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)
Item = TypeVar("Item")  # a request
Read = TypeVar("Read")  # what the store stage read for it


class Batcher(Generic[Item, Read]):
    """`read` is the store stage: one round trip for a batch, returning the items left to
    compute with what was read for each (items it answered itself are left out).
    `compute` is the compute stage, run without awaiting on everything read so far.
    `fail` answers items whose stage raised, so that no caller is left waiting.
    `after_compute` runs after each computation (e.g. to schedule a write)."""

    def __init__(
        self,
        read: Callable[[list[Item]], Awaitable[list[tuple[Item, Read]]]],
        compute: Callable[[list[tuple[Item, Read]]], None],
        fail: Callable[[list[Item], BaseException], None],
        *,
        max_batch: int,
        max_inflight: int,
        linger_s: float,
        after_compute: Callable[[], None] = lambda: None,
    ) -> None:
        self._read = read
        self._compute = compute
        self._fail = fail
        self._after_compute = after_compute
        self.max_batch = max_batch
        self.max_inflight = max_inflight
        self.linger_s = linger_s
        self._queue: asyncio.Queue[Item] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._computer: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[None]] = set()
        # Items whose store stage is done, waiting for the compute worker.
        self._computable: list[tuple[Item, Read]] = []
        self._wake_computer = asyncio.Event()
        self._reading: set[int] = set()  # store batches waiting for the store, by number
        self._batch_numbers = itertools.count()
        # Store batches out at once, at most: the workers' and run_now's together.
        self._slots = asyncio.Semaphore(max_inflight)
        self._alone = 0  # requests running both stages in their own task (run_now)
        self._alone_done = asyncio.Event()
        self._alone_done.set()

    @property
    def idle(self) -> bool:
        """Nothing queued, read or waiting to compute: the next item may `run_now`."""
        return not self._reading and not self._computable and self._queue.empty()

    def submit(self, item: Item) -> None:
        self._queue.put_nowait(item)

    async def run_now(self, item: Item) -> None:
        """Both stages for `item` in the caller's task (when `idle`): its round trip, then
        its computation with whatever else is ready by then. While it is out the stages
        are not idle, so the items that follow are batched by the workers as usual; if
        their round trips are still out when it lands, it is handed to the compute worker,
        which lingers for them as for any batch. If the caller is cancelled midway, the
        item is failed (its waiters are answered)."""
        self._alone += 1
        self._alone_done.clear()
        try:
            async with self._slots:  # free when idle: taken without waiting
                await self._batch([item], compute_now=True)
        except BaseException:
            self._fail([item], RuntimeError("the request was cancelled before it was scored"))
            raise
        finally:
            self._alone -= 1
            if not self._alone:
                self._alone_done.set()

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` beside the stages; `stop` waits for it."""
        task = asyncio.create_task(work)
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def start(self) -> None:
        self._worker = asyncio.create_task(self._run(), name="scoring-batches")
        self._computer = asyncio.create_task(self._compute_loop(), name="scoring-compute")

    async def stop(self) -> None:
        """Stop taking batches; finish those in flight and compute what they read."""
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        await asyncio.gather(*self._inflight, return_exceptions=True)
        await self._alone_done.wait()
        if self._computer is not None:
            self._computer.cancel()
            await asyncio.gather(self._computer, return_exceptions=True)
        self._compute_ready()  # whatever the worker had not reached yet
        await asyncio.gather(*self._inflight, return_exceptions=True)  # work it started

    async def _run(self) -> None:
        # Several store batches in flight: while one waits for the store, the next is sent.
        slots = self._slots
        while True:
            await slots.acquire()
            batch = [await self._queue.get()]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            task = asyncio.create_task(self._batch(batch))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
            task.add_done_callback(lambda _t: slots.release())

    async def _batch(self, batch: list[Item], *, compute_now: bool = False) -> None:
        try:
            number = next(self._batch_numbers)
            self._reading.add(number)
            try:
                ready = await self._read(batch)
            finally:
                self._reading.discard(number)
        except Exception as exc:  # never leave a caller waiting
            log.exception("scoring batch failed")
            self._fail(batch, exc)
            return
        self._computable += ready
        if compute_now and not self._reading:  # else the worker lingers for those still out
            self._compute_ready()
            self._after_compute()
        else:
            self._wake_computer.set()

    async def _compute_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake_computer.wait()
            self._wake_computer.clear()
            # Round trips already out will land soon: wait for them (at most the linger) so
            # one computation serves them all instead of one each. Not for the ones sent
            # while waiting: under a steady stream there is always one out, and waiting for
            # it would leave the loop idle and every request later.
            out = frozenset(self._reading)
            deadline = loop.time() + self.linger_s
            while not out.isdisjoint(self._reading) and (left := deadline - loop.time()) > 0:
                with suppress(TimeoutError):
                    async with asyncio.timeout(left):  # no task of its own, as wait_for's
                        await self._wake_computer.wait()
                self._wake_computer.clear()
            self._compute_ready()
            self._after_compute()

    def _compute_ready(self) -> None:
        """Compute every item whose store stage is done, together (no await inside)."""
        items, self._computable = self._computable, []
        if not items:
            return
        try:
            self._compute(items)
        except Exception as exc:  # never leave a caller waiting
            log.exception("scoring batch failed")
            self._fail([item for item, _ in items], exc)
