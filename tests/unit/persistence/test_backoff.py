"""The one backoff: its schedule, its bounds and its jitter (seeded)."""

from __future__ import annotations

import random

from persistence.backoff import Backoff, delay


def test_the_schedule_doubles_from_the_first_delay_then_stays_at_the_cap() -> None:
    assert delay(0, 0.1, 5.0) == 0.0
    assert [delay(n, 0.1, 5.0) for n in range(1, 8)] == [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0]
    assert delay(10_000, 0.1, 5.0) == 5.0  # no overflow however long the outage
    assert delay(3, 1.0, 300.0, factor=3.0) == 9.0


def test_jittered_waits_stay_between_the_step_and_the_next_never_above_the_cap() -> None:
    rng = random.Random(7)
    for attempt in range(1, 40):
        for _ in range(200):
            wait = delay(attempt, 0.1, 5.0, rng=rng)
            assert delay(attempt, 0.1, 5.0) <= wait <= min(5.0, delay(attempt + 1, 0.1, 5.0))
            assert 0.0 < wait <= 5.0


def test_waits_grow_then_saturate_at_the_cap_and_reset_starts_again() -> None:
    backoff = Backoff(0.1, 5.0, rng=random.Random(1))
    waits = [backoff.next() for _ in range(12)]
    assert backoff.attempts == 12
    assert all(0.1 <= w <= 5.0 for w in waits)
    assert waits[0] <= 0.2
    assert waits[7:] == [5.0] * 5  # 0.1 * 2**6 > 5: at the cap, the cap
    assert waits[0] < waits[3] < waits[6]
    backoff.reset()
    assert backoff.attempts == 0
    assert 0.1 <= backoff.next() <= 0.2


def test_jitter_spreads_the_waits_of_replicas_that_failed_together() -> None:
    replicas = [Backoff(0.25, 5.0, rng=random.Random(seed)) for seed in range(50)]
    third = [r.next() + r.next() + r.next() for r in replicas]  # when each retries a 3rd time
    assert min(third) >= 0.25 + 0.5 + 1.0
    assert max(third) <= 0.5 + 1.0 + 2.0
    assert max(third) - min(third) > 1.0  # not in step
    assert len({round(t, 6) for t in third}) == 50


def test_the_same_seed_gives_the_same_waits() -> None:
    a = Backoff(0.1, 5.0, rng=random.Random(3))
    b = Backoff(0.1, 5.0, rng=random.Random(3))
    assert [a.next() for _ in range(8)] == [b.next() for _ in range(8)]
