"""When to stop asking the feature store: a circuit breaker over its round trips.

A slow call degrades only its batch. An error means the store is down: it is skipped at
once for a while (requests answer degraded without waiting). Slowness opens the breaker
only when it is the store's state, not a moment's: half of the last WINDOW calls past
their budget. A stall of the API's own process (a busy machine, a collection) makes the
few batches in flight at that moment slow together; counting those "in a row", as this
breaker once did, turned every such stall into half a second of degraded answers for all
traffic (`make perf` counted hundreds). A hung store, where every call is slow, still
opens it after SLOW_CALLS_TO_OPEN calls.

After the wait the breaker is half-open: the next call decides. In time, the store is
back and the record starts afresh; slow or failed, it is skipped again at once.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

WINDOW = 20  # the last calls whose timeliness is weighed
SLOW_CALLS_TO_OPEN = 10  # of them, past their budget


class StoreBreaker:
    def __init__(self, retry_after_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.retry_after_s = retry_after_s
        self._clock = clock
        self._down_until = 0.0
        self._recent: deque[bool] = deque(maxlen=WINDOW)  # True: the call was slow
        self._slow = 0  # slow calls in _recent
        self._half_open = False  # the wait is over: the next call decides

    @property
    def skipping(self) -> bool:
        """True while the store is being skipped after failing."""
        return self._clock() < self._down_until

    def succeeded(self) -> None:
        if self._half_open:
            self._half_open = False
            self._forget()
        self._record(slow=False)

    def failed(self, slow: bool) -> None:
        """A round trip failed: `slow` if it ran past its budget, else it raised."""
        if not slow or self._half_open:
            self._open()
            return
        self._record(slow=True)
        if self._slow >= SLOW_CALLS_TO_OPEN:
            self._open()

    def _record(self, slow: bool) -> None:
        if len(self._recent) == self._recent.maxlen:
            self._slow -= self._recent[0]
        self._recent.append(slow)
        self._slow += slow

    def _forget(self) -> None:
        self._recent.clear()
        self._slow = 0

    def _open(self) -> None:
        self._down_until = self._clock() + self.retry_after_s
        self._half_open = True
        self._forget()
