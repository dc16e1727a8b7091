"""The background steps (rule and list syncs) back off while their server is away."""

from __future__ import annotations

import asyncio

from app.periodic import MAX_BACKOFF_S, Periodic, retry_delay


def test_the_interval_while_steps_work_then_doubling_per_failure_up_to_the_cap() -> None:
    assert retry_delay(0.25, 0) == 0.25
    assert [retry_delay(0.25, n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert retry_delay(0.25, 5) == MAX_BACKOFF_S
    assert retry_delay(0.25, 10_000) == MAX_BACKOFF_S  # no overflow however long the outage
    assert retry_delay(30.0, 3) == 30.0  # an interval above the cap is kept


class Flaky(Periodic):
    """Fails `failures` times with OSError (a server away), then works."""

    name = "flaky step"

    def __init__(self, interval_s: float, failures: int, done_after: int) -> None:
        super().__init__(interval_s)
        self.failures = failures
        self.done_after = done_after
        self.times: list[float] = []
        self.done = asyncio.Event()

    async def step(self) -> None:
        self.times.append(asyncio.get_running_loop().time())
        if len(self.times) >= self.done_after:
            self.done.set()
        if len(self.times) <= self.failures:
            raise OSError("connection refused")


def test_a_failing_step_is_retried_less_often_and_at_the_interval_once_it_works() -> None:
    interval = 0.002
    step = Flaky(interval, failures=4, done_after=7)

    async def scenario() -> None:
        step.start()
        await step.done.wait()
        await step.stop()

    asyncio.run(scenario())
    gaps = [b - a for a, b in zip(step.times, step.times[1:], strict=False)]
    # After the n-th failure the next attempt waits the doubled delay (timers never fire
    # early; a slow machine only makes gaps longer).
    for n, gap in enumerate(gaps[:4], start=1):
        assert gap >= retry_delay(interval, n) - 1e-4, (n, gaps)
    assert gaps[3] >= 8 * interval  # the fourth failure's wait: 2^4 intervals, not one
    assert step._failures == 0  # it works again: back to the plain interval


def test_a_wake_up_runs_a_backed_off_step_at_once() -> None:
    step = Flaky(1.0, failures=100, done_after=4)

    async def scenario() -> float:
        loop = asyncio.get_running_loop()
        step.start()
        # Without the wake-ups the fourth attempt would come 2 + 4 s after the second.
        while not step.done.is_set():
            step.soon()
            await asyncio.sleep(0)  # let the step run (a turn of the loop, not a clock)
        waited = loop.time() - step.times[0]
        await step.stop()
        return waited

    assert asyncio.run(scenario()) < retry_delay(1.0, 1) + retry_delay(1.0, 2)
