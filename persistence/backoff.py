"""The one exponential backoff of the loops that wait out a server: the consumer holding its
batch, the alert dispatcher's poll and an alert's next attempt, the API's rule and list syncs.

The schedule (`delay` without a random source) is each caller's minimum: the first delay,
multiplied by `factor` per attempt, never above the cap. With one, the wait is drawn between
that step and the next (uniformly, the next clipped to the cap): equal jitter of the next
step, whose fixed half is the schedule. Not full jitter (anywhere from 0 to the step): a
replica would then retry a server that is away sooner than it does without jitter, and the
point of these loops is to leave it alone. The cost: at the cap there is no jitter left, the
wait is the cap; but the steps below it have already spread the replicas that failed
together, and a fixed period keeps them where they are.

Hand-written rather than `tenacity`: these are long-running loops that keep a batch or a
connection, retry for ever, reset on success and wait on a stop or wake-up event; a retry
decorator fits them poorly, and the arithmetic is a few lines.
"""

from __future__ import annotations

import random

# Past this many steps every factor above 1 is at any cap; the exponent stops growing there
# (no overflow however long the outage).
_MAX_EXPONENT = 64


def delay(
    attempt: int,
    first_s: float,
    cap_s: float,
    *,
    factor: float = 2.0,
    rng: random.Random | None = None,
) -> float:
    """The wait before retry `attempt` (1 for the first): without `rng` the schedule,
    `first_s * factor ** (attempt - 1)` up to `cap_s`; with it, a draw between that and the
    next step (up to `cap_s`). 0 before the first attempt."""
    if attempt <= 0:
        return 0.0
    low = min(cap_s, first_s * factor ** min(attempt - 1, _MAX_EXPONENT))
    if rng is None:
        return low
    return min(cap_s, rng.uniform(low, min(cap_s, low * factor)))


class Backoff:
    """The waits of one run of failures: `next()` after each failure, `reset()` once the
    server answers again."""

    def __init__(
        self,
        first_s: float,
        cap_s: float,
        *,
        factor: float = 2.0,
        rng: random.Random | None = None,
    ) -> None:
        self.first_s = first_s
        self.cap_s = cap_s
        self.factor = factor
        self.attempts = 0  # failures in a row
        self._rng = rng if rng is not None else random.Random()

    def next(self) -> float:
        """Counts a failure and returns how long to wait before trying again."""
        self.attempts += 1
        return delay(self.attempts, self.first_s, self.cap_s, factor=self.factor, rng=self._rng)

    def reset(self) -> None:
        self.attempts = 0
