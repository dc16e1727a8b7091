"""The per-day profile entries of an entity's state in Redis: the replay's totals, bounded
memory, late events."""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio as aioredis

from app.schemas.score import ScoreRequest
from features.definitions import PROFILE_DAYS, PROFILE_SUMS
from features.redis_store import RedisWindowStore
from features.window_format import WindowRead, entity_key, profile_totals, stored_state
from tests.factories import tx

DAY = 86_400


def _request(row: dict[str, Any]) -> ScoreRequest:
    body = {k: v for k, v in row.items() if v is not None and k != "is_fraud"}
    return ScoreRequest.model_validate(body)


def _record(redis_url: str, prefix: str, rows: list[dict[str, Any]]) -> list[WindowRead]:
    async def run() -> list[WindowRead]:
        client = aioredis.Redis.from_url(redis_url)
        store = RedisWindowStore(client, prefix, 60_000, replay=True)
        try:
            return [(await store.read_and_record([_request(r).to_online().event]))[0] for r in rows]
        finally:
            await client.aclose()

    return asyncio.run(run())


def _totals(read: WindowRead) -> dict[str, int]:
    return dict(zip(PROFILE_SUMS, profile_totals([read.profiles["card"]])[0].tolist(), strict=True))


def _day_entries(redis_url: str, key: str) -> int:
    async def run() -> int:
        client = aioredis.Redis.from_url(redis_url)
        try:
            return len(stored_state("card", await client.get(key)).days)
        finally:
            await client.aclose()

    return asyncio.run(run())


def test_a_card_profile_keeps_only_its_horizon_of_days(redis_url: str, prefix: str) -> None:
    rows = [
        tx(n, day * DAY + 3600 * k, amount=10.0 + k)
        for n, (day, k) in enumerate(((d, k) for d in range(70) for k in range(3)), start=1)
    ]
    reads = _record(redis_url, prefix, rows)
    longest = max(PROFILE_DAYS.values())
    # One entry per day kept, days beyond the longest horizon dropped.
    assert _day_entries(redis_url, entity_key(prefix, "card", "card_a")) <= longest + 1
    last = _totals(reads[-1])
    assert last["count_prev30d"] == 90
    assert last["count_prev7d"] == 21
    assert last["count_prev1d"] == 3
    assert last["cents"] == 30 * (1000 + 1100 + 1200)
    assert last["squares"] == 30 * (100 + 121 + 144)
    # Within a day the cached totals are reused and stay those of the previous days.
    assert reads[-1].profiles["card"] == reads[-3].profiles["card"]


def test_a_late_event_reaches_the_totals_of_later_days(redis_url: str, prefix: str) -> None:
    reads = _record(
        redis_url,
        prefix,
        [tx(1, 10 * DAY), tx(2, 12 * DAY), tx(3, 11 * DAY), tx(4, 12 * DAY + 60)],
    )
    counts = [_totals(r) for r in reads]
    assert [c["count_prev7d"] for c in counts] == [0, 1, 1, 2]
    assert counts[3]["count_prev1d"] == 1


def test_a_retried_transaction_is_counted_once(redis_url: str, prefix: str) -> None:
    reads = _record(redis_url, prefix, [tx(1, 0), tx(1, 0), tx(2, DAY)])
    assert _totals(reads[2])["count_prev1d"] == 1
    assert set(_totals(reads[0]).values()) == {0}
