"""The store's circuit breaker: one slow call is forgiven, an error or a run of slow calls
skips the store for a while, and it is asked again afterwards."""

from __future__ import annotations

from scoring.breaker import SLOW_CALLS_BEFORE_SKIPPING, StoreBreaker


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


def test_slow_calls_skip_the_store_only_when_several_come_in_a_row() -> None:
    clock = Clock()
    breaker = StoreBreaker(retry_after_s=1.0, clock=clock)
    for _ in range(SLOW_CALLS_BEFORE_SKIPPING - 1):
        breaker.failed(slow=True)
        assert not breaker.skipping
    breaker.succeeded()  # a call in time breaks the run
    for _ in range(SLOW_CALLS_BEFORE_SKIPPING - 1):
        breaker.failed(slow=True)
    assert not breaker.skipping
    breaker.failed(slow=True)
    assert breaker.skipping
    clock.now += 1.0
    assert not breaker.skipping


def test_an_error_between_slow_calls_restarts_their_count() -> None:
    clock = Clock()
    breaker = StoreBreaker(retry_after_s=1.0, clock=clock)
    breaker.failed(slow=True)
    breaker.failed(slow=True)
    breaker.failed(slow=False)
    clock.now += 1.0
    assert not breaker.skipping
    breaker.failed(slow=True)  # the first of a new run
    assert not breaker.skipping
