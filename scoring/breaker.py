"""When to stop asking the feature store: a circuit breaker over its round trips.

A single slow call degrades only its batch; an error, or several slow calls in a row,
means the store is unwell: it is skipped for a while (requests answer degraded at once)
instead of being waited on by every batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable

SLOW_CALLS_BEFORE_SKIPPING = 3


class StoreBreaker:
    def __init__(self, retry_after_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.retry_after_s = retry_after_s
        self._clock = clock
        self._down_until = 0.0
        self._slow_in_row = 0

    @property
    def skipping(self) -> bool:
        """True while the store is being skipped after failing."""
        return self._clock() < self._down_until

    def succeeded(self) -> None:
        self._slow_in_row = 0

    def failed(self, slow: bool) -> None:
        """A round trip failed: `slow` if it ran past its budget, else it raised."""
        self._slow_in_row = self._slow_in_row + 1 if slow else 0
        if not slow or self._slow_in_row >= SLOW_CALLS_BEFORE_SKIPPING:
            self._down_until = self._clock() + self.retry_after_s
