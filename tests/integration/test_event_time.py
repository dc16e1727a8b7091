"""Live event time (the default) against a real Redis: timestamps are trusted only near the
server's clock, and no write trims a window past it, so one request cannot erase a card's
history. Replay mode (FRAUD_EVENT_TIME=replay) keeps trusting every time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis
from fastapi.testclient import TestClient

from app.main import create_app
from app.schemas.score import ScoreRequest
from features.definitions import DAY_MS, HISTORY_MS
from features.redis_store import RedisWindowStore
from features.window_format import entity_key, stored_state
from tests.integration.conftest import API_KEY, keys_of, make_settings
from tests.integration.test_score_api import body

CARD, MERCHANT = "card_wipe", "m_wipe"


def live_client(redis_url: str, prefix: str, bundle_dir: Path, **settings: Any) -> TestClient:
    app = create_app(make_settings(redis_url, prefix, bundle_dir, event_time="live", **settings))
    client = TestClient(app)
    client.headers["Authorization"] = f"Bearer {API_KEY}"
    return client


@pytest.fixture
def live(redis_url: str, prefix: str, bundle_dir: Path) -> Iterator[TestClient]:
    """The API with the default event-time settings (live, 300 s ahead, a day behind)."""
    with live_client(redis_url, prefix, bundle_dir) as c:
        yield c


def stamp(moment: datetime, offset: str = "Z") -> str:
    if offset == "Z":
        return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    hours, minutes = int(offset[1:3]), int(offset[4:6])
    shift = timedelta(hours=hours, minutes=minutes) * (1 if offset[0] == "+" else -1)
    return (moment.astimezone(UTC) + shift).replace(tzinfo=None).isoformat(
        timespec="milliseconds"
    ) + offset


def charge(tx: str, moment: datetime | str, **changes: Any) -> dict[str, Any]:
    timestamp = moment if isinstance(moment, str) else stamp(moment)
    # Card testing: tiny e-commerce charges from one device at one merchant.
    fields: dict[str, Any] = {
        "card_id": CARD,
        "merchant_id": MERCHANT,
        "merchant_category": "5999",
        "amount": 1.0 + len(tx) % 4,
        "device_id": "dev_ring",
        "ip_address": "198.51.100.9",
        "latitude": None,
        "longitude": None,
    }
    return body(transaction_id=tx, timestamp=timestamp, **(fields | changes))


def refused_field(answer: Any) -> list[str]:
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "validation_error"
    return [d["field"] for d in answer.json()["detail"]]


def test_times_near_the_clock_are_scored_and_far_ones_refused_naming_the_field(
    live: TestClient, redis_url: str, prefix: str
) -> None:
    now = datetime.now(UTC)
    for n, moment in enumerate(
        (
            stamp(now),
            stamp(now + timedelta(seconds=240)),  # a client clock ahead, within 300 s
            stamp(now - timedelta(hours=23)),  # a late arrival, within a day
            stamp(now, "-14:00"),
            stamp(now, "+14:00"),
        )
    ):
        answer = live.post("/v1/score", json=body(transaction_id=f"near{n}", timestamp=moment))
        assert answer.status_code == 200, (moment, answer.text)
    deadline = time.monotonic() + 5
    while sum(b":d:" in k for k in keys_of(redis_url, prefix)) < 5:  # answers written back
        assert time.monotonic() < deadline
        time.sleep(0.01)
    before = keys_of(redis_url, prefix)
    for n, moment in enumerate(
        (
            stamp(now + timedelta(seconds=400)),
            stamp(now - timedelta(days=2)),
            "9999-12-31T23:59:59Z",
            "0001-01-01T00:00:00Z",
            "2026-11-28T12:00:00.000+01:00",  # the documented example, days old by now
        )
    ):
        answer = live.post("/v1/score", json=body(transaction_id=f"far{n}", timestamp=moment))
        assert refused_field(answer) == ["timestamp"], moment
        assert "server's clock" in answer.json()["detail"][0]["message"]
    assert keys_of(redis_url, prefix) == before  # nothing read, nothing written


@pytest.mark.parametrize("event_time", ["live", "replay"])
@pytest.mark.parametrize(
    "timestamp",
    [
        "9999-12-31T23:59:59-14:00",  # year 10000 in UTC: it used to stop the consumer
        "0001-01-01T00:00:00+14:00",  # year 0 in UTC
        "2026-12-01T12:00:00+15:00",  # no zone is this far from UTC
    ],
)
def test_times_that_cannot_be_converted_to_utc_are_refused_in_both_modes(
    redis_url: str, prefix: str, bundle_dir: Path, event_time: str, timestamp: str
) -> None:
    settings = make_settings(redis_url, prefix, bundle_dir, event_time=event_time)
    with TestClient(create_app(settings)) as c:
        c.headers["Authorization"] = f"Bearer {API_KEY}"
        answer = c.post("/v1/score", json=body(transaction_id="odd", timestamp=timestamp))
        assert refused_field(answer) == ["timestamp"]
    assert keys_of(redis_url, prefix) == set()


def test_the_bounds_are_settings(redis_url: str, prefix: str, bundle_dir: Path) -> None:
    with live_client(
        redis_url, prefix, bundle_dir, max_clock_skew_s=5.0, max_event_age_s=60.0
    ) as c:
        now = datetime.now(UTC)
        ahead = c.post("/v1/score", json=charge("s1", now + timedelta(seconds=30)))
        assert refused_field(ahead) == ["timestamp"]
        assert "FRAUD_MAX_CLOCK_SKEW_S" in ahead.json()["detail"][0]["message"]
        behind = c.post("/v1/score", json=charge("s2", now - timedelta(seconds=120)))
        assert "FRAUD_MAX_EVENT_AGE_S" in behind.json()["detail"][0]["message"]
        assert (
            c.post("/v1/score", json=charge("s3", now - timedelta(seconds=30))).status_code == 200
        )


def burst_then_probe(c: TestClient) -> tuple[datetime, dict[str, Any]]:
    """30 charges in the last minute, then a probe: what the burst makes of the card."""
    now = datetime.now(UTC)
    for i in range(30):
        r = c.post("/v1/score", json=charge(f"burst{i}", now - timedelta(seconds=60 - 2 * i)))
        assert r.status_code == 200, r.text
    probe = c.post("/v1/score", json=charge("probe1", now)).json()
    assert probe["decision"] != "approve", probe  # the burst is seen
    return now, probe


def test_one_far_future_request_cannot_wipe_a_cards_history(
    live: TestClient, redis_url: str, prefix: str
) -> None:
    """The hostile tester's reproduction: a burst of 30 charges, a probe, then one POST for
    the same card and merchant dated 9999 (it used to trim both windows to itself and the
    probe then scored low / approve), then the same probe again: the burst's risk still,
    and every member still in Redis."""
    now, first = burst_then_probe(live)
    wipe = live.post("/v1/score", json=charge("wipe", "9999-12-31T23:59:59Z"))
    assert refused_field(wipe) == ["timestamp"]
    # The largest step ahead that is accepted (just under the skew) moves no horizon past
    # the server's clock either.
    edge = live.post("/v1/score", json=charge("edge", now + timedelta(seconds=290)))
    assert edge.status_code == 200, edge.text

    second = live.post("/v1/score", json=charge("probe2", now + timedelta(seconds=1))).json()
    assert (second["risk_tier"], second["decision"]) == (first["risk_tier"], first["decision"])
    assert second["score"] >= first["score"] - 0.02, (first, second)
    with redis.Redis.from_url(redis_url) as r:
        # 30 charges, the two probes and the one ahead: nothing trimmed.
        assert len(stored_state("card", r.get(entity_key(prefix, "card", CARD))).window) == 33
        assert (
            len(stored_state("merchant", r.get(entity_key(prefix, "merchant", MERCHANT))).window)
            == 33
        )


def test_replay_mode_trusts_the_same_request_which_is_why_production_refuses_it(
    redis_url: str, prefix: str, bundle_dir: Path
) -> None:
    """What the live bounds prevent: with FRAUD_EVENT_TIME=replay the far-future POST is
    taken and trims the windows at its own time, and the probe after it sees no burst."""
    settings = make_settings(redis_url, prefix, bundle_dir, event_time="replay")
    with TestClient(create_app(settings)) as c:
        c.headers["Authorization"] = f"Bearer {API_KEY}"
        now, first = burst_then_probe(c)
        assert c.post("/v1/score", json=charge("wipe", "9999-12-31T23:59:59Z")).status_code == 200
        second = c.post("/v1/score", json=charge("probe2", now + timedelta(seconds=1))).json()
    assert second["score"] < first["score"]
    with redis.Redis.from_url(redis_url) as r:
        assert (
            len(stored_state("card", r.get(entity_key(prefix, "card", CARD))).window) == 2
        )  # the wipe and the probe


def _event(tx: str, ts_ms: int, card: str = CARD) -> Any:
    moment = datetime.fromtimestamp(ts_ms / 1000, UTC)
    return ScoreRequest.model_validate(charge(tx, moment, card_id=card)).to_online().event


def test_the_store_never_trims_past_the_servers_clock(redis_url: str, prefix: str) -> None:
    """Below the API's checks: writes dated far ahead (a caller that skipped them, a clock
    set wrong) trim windows and profile days at the server's clock, not at their own time;
    a replay store trims at each event's own time, as the offline replay does."""
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    today = now_ms // DAY_MS

    async def run(replay: bool, card: str) -> tuple[int, int]:
        async with aioredis.Redis.from_url(redis_url) as client:
            store = RedisWindowStore(client, prefix, 60_000, replay=replay)
            # One charge a day for 35 days, the last an hour ago: windows and profile days.
            for d in reversed(range(35)):
                await store.read_and_record(
                    [_event(f"{card}_{d}", now_ms - 3_600_000 - d * DAY_MS, card)]
                )
            # Two writes on days far ahead, past every window and profile horizon (the
            # second finds the profile at its size limit: it drops old days).
            for n in (1, 2):
                await store.read_and_record(
                    [_event(f"{card}_ahead{n}", now_ms + (400 + n) * DAY_MS, card)]
                )
            state = stored_state("card", await client.get(entity_key(prefix, "card", card)))
            stored = state.window
            window = ((stored["ts"] >= now_ms - HISTORY_MS) & (stored["ts"] <= now_ms)).sum()
            kept = set(state.days["day"].tolist())
            return int(window), sum(today - d in kept for d in range(1, 31))

    # The last 7 days' charges, and the 30 complete days a profile read today needs.
    assert asyncio.run(run(replay=False, card="card_live")) == (7, 30)
    assert asyncio.run(run(replay=True, card="card_replay")) == (0, 0)
