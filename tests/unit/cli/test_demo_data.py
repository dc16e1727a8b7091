"""The demo's world moved in time: its traffic starts within the week before now, by whole
weeks (hour of day and day of week kept), each row keeping its UTC offset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from cli.demo_data import past_days, shifted, split_world, weeks_to, write_run_files
from features.dataset import read_transactions, write_transactions


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


def test_the_past_is_whole_iso_weeks_from_the_monday_after_the_training_history() -> None:
    """45 days from 1 January 2026 end on a Sunday: one day to Monday, then four weeks;
    20 days (the e2e's) end on a Wednesday: five days to Monday."""
    assert past_days(45) == 1 + 28
    assert past_days(20) == 5 + 28
    assert past_days(20, weeks=0) == 0
    for days in range(14, 60):
        end = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=days + past_days(days))
        assert end.weekday() == 0  # the traffic starts on a Monday


def test_a_run_is_history_past_and_traffic_the_past_whole_weeks_before_the_traffic(
    tmp_path: Path,
) -> None:
    now = datetime(2026, 12, 9, 15, 0, tzinfo=UTC)  # a Wednesday
    files = write_run_files(tmp_path, "run", 14, 100, 7.0, now=now, past_weeks=2)
    assert files.traffic_start == datetime(2026, 12, 7, tzinfo=UTC)  # this week's Monday
    assert files.past_start == files.traffic_start - timedelta(weeks=2)
    history, past, traffic = (read_transactions(p) for p in files.paths)
    times = [
        pd.to_datetime(f["timestamp"], utc=True, format="ISO8601") for f in (history, past, traffic)
    ]
    assert times[0].max() < files.past_start <= times[1].min()
    assert times[1].max() < files.traffic_start <= times[2].min()
    assert times[1].min() - files.past_start < timedelta(hours=1)  # every day of it
    assert past["is_fraud"].sum() > 0
    assert past["label_reported_at"].notna().sum() == past["is_fraud"].sum()
    without = write_run_files(tmp_path, "old", 14, 100, 7.0, now=now, past_weeks=0)
    assert read_transactions(without.past).empty
    assert without.traffic_start == datetime(2026, 12, 3, tzinfo=UTC)  # a Thursday, as before
