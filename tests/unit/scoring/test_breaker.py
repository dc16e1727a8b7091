"""The store's circuit breaker: an error skips the store for a while; slowness only when it
is the store's state (half of the recent calls), not a stall's few batches; after the wait
the next call decides."""

from __future__ import annotations

from scoring.breaker import SLOW_CALLS_TO_OPEN, WINDOW, StoreBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_error_skips_the_store_until_the_retry_delay_has_passed() -> None:
    clock = Clock()
    breaker = StoreBreaker(retry_after_s=2.0, clock=clock)
    assert not breaker.skipping
    breaker.failed(slow=False)
    assert breaker.skipping
    clock.now += 1.9
    assert breaker.skipping
    clock.now += 0.2
    assert not breaker.skipping


def test_a_stall_that_makes_the_batches_in_flight_slow_together_skips_nothing() -> None:
    """What `make perf` met: the API's process stalls, the four batches in flight come back
    past their budget together (each answered degraded), and the store is fine. Three slow
    calls in a row used to skip the store for half a second: every request degraded."""
    breaker = StoreBreaker(retry_after_s=0.5, clock=Clock())
    for _ in range(3):
        for _ in range(WINDOW - 5):
            breaker.succeeded()
        for _ in range(5):
            breaker.failed(slow=True)
            assert not breaker.skipping


def test_a_store_slow_for_half_of_its_recent_calls_is_skipped() -> None:
    breaker = StoreBreaker(retry_after_s=1.0, clock=Clock())
    for _ in range(SLOW_CALLS_TO_OPEN - 1):
        breaker.failed(slow=True)
        breaker.succeeded()
    assert not breaker.skipping
    breaker.failed(slow=True)
    assert breaker.skipping


def test_slow_calls_older_than_the_window_no_longer_count() -> None:
    breaker = StoreBreaker(retry_after_s=1.0, clock=Clock())
    for _ in range(SLOW_CALLS_TO_OPEN - 1):
        breaker.failed(slow=True)
    for _ in range(WINDOW):
        breaker.succeeded()
    for _ in range(SLOW_CALLS_TO_OPEN - 1):
        breaker.failed(slow=True)
    assert not breaker.skipping


def test_after_the_wait_one_slow_or_failed_call_skips_again_and_one_in_time_closes() -> None:
    clock = Clock()
    breaker = StoreBreaker(retry_after_s=1.0, clock=clock)
    breaker.failed(slow=False)
    clock.now += 1.0
    assert not breaker.skipping  # half-open: the next call decides
    breaker.failed(slow=True)
    assert breaker.skipping  # still unwell: skipped again at once
    clock.now += 1.0
    breaker.succeeded()  # back
    breaker.failed(slow=True)  # one slow call afterwards is a moment's, not the store's
    assert not breaker.skipping
