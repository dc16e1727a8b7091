"""The demo's world moved in time: its traffic starts within the week before now, by whole
weeks (hour of day and day of week kept), each row keeping its UTC offset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from cli.demo_data import shifted, split_world, weeks_to
from features.dataset import write_transactions


def test_whole_weeks_bring_a_moment_to_within_the_week_before_now() -> None:
    now = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
    start = datetime(2026, 2, 15, tzinfo=UTC)
    by = weeks_to(start, now)
    assert by % timedelta(weeks=1) == timedelta(0)
    assert now - timedelta(weeks=1) < start + by <= now


def test_rows_move_keeping_their_offsets_hours_and_weekdays() -> None:
    frame = pd.DataFrame(
        {
            "timestamp": ["2026-01-01T00:02:22.413Z", "2026-02-15T00:52:11.801+02:00"],
            "label_reported_at": [None, "2026-02-20T10:00:00.000+00:00"],
        }
    )
    out = shifted(frame, timedelta(weeks=42))
    first = datetime.fromisoformat(out["timestamp"][0])
    second = datetime.fromisoformat(out["timestamp"][1])
    assert first == datetime(2026, 1, 1, 0, 2, 22, 413000, tzinfo=UTC) + timedelta(weeks=42)
    assert second.utcoffset() == timedelta(hours=2)
    assert (second.hour, second.weekday()) == (0, datetime(2026, 2, 15).weekday())
    assert pd.isna(out["label_reported_at"][0])
    assert datetime.fromisoformat(out["label_reported_at"][1]).month == 12
    assert frame["timestamp"][0] == "2026-01-01T00:02:22.413Z"  # the input is left alone


def test_a_restamped_swarm_gets_its_history_ending_exactly_now(tmp_path: Path) -> None:
    """make perf restamps its traffic as it sends it: the history it backfills is moved to
    end at now, not by whole weeks."""
    start = datetime(2026, 1, 31, tzinfo=UTC)
    times = [start - timedelta(days=2), start - timedelta(hours=1), start + timedelta(hours=3)]
    frame = pd.DataFrame(
        {
            "transaction_id": ["a", "b", "c"],
            "timestamp": [t.isoformat(timespec="milliseconds") for t in times],
            "amount": [1.0, 2.0, 3.0],
            "currency": ["EUR"] * 3,
            "card_id": ["c1"] * 3,
            "merchant_id": ["m1"] * 3,
            "merchant_category": ["5411"] * 3,
            "channel": ["pos"] * 3,
        }
    )
    path = tmp_path / "world.parquet"
    write_transactions(frame, path)
    now = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
    history, traffic = split_world(path, start, now, exact=True)
    assert list(history["transaction_id"]) == ["a", "b"]
    assert list(traffic["transaction_id"]) == ["c"]
    last = datetime.fromisoformat(history["timestamp"].iloc[-1])
    assert last == now - timedelta(hours=1)
    weekly, _ = split_world(path, start, now)
    assert datetime.fromisoformat(weekly["timestamp"].iloc[-1]) < now - timedelta(hours=1)
