"""Answers kept for retries: carried by the next round trip, given back when it fails,
stored alone after the linger, and a failed write does not raise."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from redis.exceptions import ConnectionError as RedisConnectionError

from scoring.retry_cache import RetryCache


class Saves:
    def __init__(self, fail: BaseException | None = None) -> None:
        self.calls: list[list[tuple[str, bytes]]] = []
        self.fail = fail

    async def __call__(self, answers: Sequence[tuple[str, bytes]]) -> None:
        self.calls.append(list(answers))
        if self.fail is not None:
            raise self.fail


def test_a_round_trip_takes_every_answer_and_a_failed_one_gives_them_back_first() -> None:
    cache = RetryCache(Saves(), linger_s=0.01, timeout_s=1.0)
    cache.add("a", b"1")
    cache.add("b", b"2")
    carried = cache.take()
    assert carried == [("a", b"1"), ("b", b"2")]
    assert len(cache) == 0
    cache.add("c", b"3")
    cache.give_back(carried)
    assert cache.take() == [("a", b"1"), ("b", b"2"), ("c", b"3")]


def test_answers_no_round_trip_carried_are_stored_alone_after_the_linger() -> None:
    saves = Saves()
    cache = RetryCache(saves, linger_s=0.05, timeout_s=1.0)

    async def run() -> None:
        assert not cache.flush_due()  # nothing waiting
        cache.add("a", b"1")
        assert cache.flush_due()
        assert not cache.flush_due()  # one flush pending at a time
        later = asyncio.create_task(cache.flush_later())
        await asyncio.sleep(0.01)
        cache.add("b", b"2")
        assert saves.calls == []
        await later
        assert saves.calls == [[("a", b"1"), ("b", b"2")]]
        cache.add("c", b"3")
        assert cache.flush_due()  # the pending flush has run

    asyncio.run(run())


def test_a_round_trip_leaving_within_the_linger_leaves_the_flush_nothing() -> None:
    saves = Saves()
    cache = RetryCache(saves, linger_s=0.05, timeout_s=1.0)

    async def run() -> None:
        cache.add("a", b"1")
        assert cache.flush_due()
        later = asyncio.create_task(cache.flush_later())
        assert cache.take() == [("a", b"1")]  # a store batch carries it
        await later
        assert saves.calls == []

    asyncio.run(run())


def test_a_failed_or_slow_write_is_logged_not_raised() -> None:
    async def never(_: Sequence[tuple[str, bytes]]) -> None:
        await asyncio.sleep(10)

    async def run() -> None:
        failing = Saves(fail=RedisConnectionError("down"))
        cache = RetryCache(failing, linger_s=0.0, timeout_s=1.0)
        cache.add("a", b"1")
        await cache.flush()
        assert len(failing.calls) == 1
        slow = RetryCache(never, linger_s=0.0, timeout_s=0.01)
        slow.add("a", b"1")
        await slow.flush()
        assert len(slow) == 0

    asyncio.run(run())
