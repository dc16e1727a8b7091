"""The per-process side of the shared rate limit, on a clock of the test's own."""

from __future__ import annotations

from app.rate_limit import IDLE_S, LocalBuckets, bucket_key


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_new_key_may_spend_the_burst_before_its_first_sync() -> None:
    buckets = LocalBuckets(rate=2, burst=3, clock=Clock())
    assert [buckets.admit("k") for _ in range(4)] == [None, None, None, 1]
    assert buckets.admit("other") is None  # each key its own bucket


def test_the_shared_tokens_replace_the_allowance_less_what_was_admitted_meanwhile() -> None:
    buckets = LocalBuckets(rate=10, burst=5, clock=Clock())
    assert buckets.admit("k") is None
    assert buckets.report() == {"k": 1}
    assert buckets.admit("k") is None  # while the report is out
    buckets.synced("k", 2.0)  # the shared bucket after the report
    assert buckets.admit("k") is None  # 2 - 1 admitted meanwhile = 1 left
    assert buckets.admit("k") is not None
    assert buckets.report() == {"k": 2}


def test_debt_in_the_shared_bucket_sets_retry_after() -> None:
    buckets = LocalBuckets(rate=2, burst=4, clock=Clock())
    buckets.admit("k")
    buckets.report()
    buckets.synced("k", -5.0)  # other processes overspent: 6 tokens to refill at 2 a second
    assert buckets.admit("k") == 3


def test_without_redis_the_allowance_refills_locally_and_the_report_is_kept() -> None:
    buckets = LocalBuckets(rate=10, burst=5, clock=Clock())
    for _ in range(5):
        assert buckets.admit("k") is None
    assert buckets.admit("k") is not None
    reported = buckets.report()
    buckets.unsynced(reported, 0.1)  # one token for 100 ms at 10 a second
    assert buckets.admit("k") is None
    assert buckets.admit("k") is not None
    assert buckets.report() == {"k": 6}


def test_idle_keys_are_forgotten_and_a_zero_rate_admits_everything() -> None:
    clock = Clock()
    buckets = LocalBuckets(rate=1, burst=1, clock=clock)
    buckets.admit("k")
    assert buckets.report() == {"k": 1}
    clock.now += IDLE_S + 1
    assert buckets.report() == {}
    off = LocalBuckets(rate=0, burst=0, clock=clock)
    assert all(off.admit("k") is None for _ in range(10_000))
    assert off.report() == {}


def test_the_bucket_key() -> None:
    assert bucket_key("fe", "0123456789abcdef") == "fe:rl:0123456789abcdef"
