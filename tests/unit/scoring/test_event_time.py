"""The event-time policy: live bounds around the server's clock, replay trusts any time."""

from __future__ import annotations

import pytest

from scoring.event_time import EventTimePolicy, EventTimeRefused

NOW = 1_796_000_000_000  # ms


def test_live_accepts_the_skew_ahead_and_the_age_behind_and_nothing_beyond() -> None:
    live = EventTimePolicy(max_skew_ms=300_000, max_age_ms=3_600_000)
    for ts in (NOW, NOW + 300_000, NOW - 3_600_000):
        live.check(ts, NOW)
    with pytest.raises(EventTimeRefused, match=r"300 s ahead.*at most 300 s"):
        live.check(NOW + 300_001, NOW)
    with pytest.raises(EventTimeRefused, match=r"behind the server's clock.*at most 3600 s"):
        live.check(NOW - 3_600_001, NOW)
    with pytest.raises(EventTimeRefused, match="FRAUD_MAX_CLOCK_SKEW_S"):
        live.check(253_402_300_799_000, NOW)  # 9999-12-31T23:59:59Z


def test_replay_trusts_every_time() -> None:
    replay = EventTimePolicy(replay=True)
    for ts in (-62_135_596_800_000, NOW, 253_402_300_799_000):
        replay.check(ts, NOW)
