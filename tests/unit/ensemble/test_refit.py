"""Which rows a refit learns from, and when a refit is refused."""

from __future__ import annotations

import numpy as np
import pytest

from ensemble.refit import MIN_RECENT_ROWS, RefitError, refit_rows
from features.definitions import DAY_MS, HOUR_MS

# 20 days of rows, one an hour; the train split starts at row 48 (day 2).
TS = np.arange(20 * 24, dtype=np.int64) * HOUR_MS


def test_the_refit_learns_up_to_the_label_delay_before_the_end() -> None:
    labels = np.zeros(len(TS), dtype=np.int8)
    plan = refit_rows(np.repeat(TS, 10), 480, np.repeat(labels, 10), label_delay_days=7.0)
    # The history ends at the last row + 1 ms; rows from 7 days before that are recent.
    mature_until = int(TS[-1]) + 1 - 7 * DAY_MS
    assert plan.mature_until_ms == mature_until
    assert plan.rows == slice(480, int(np.searchsorted(np.repeat(TS, 10), mature_until)))
    assert plan.recent.stop == len(TS) * 10
    assert plan.rows.stop == plan.recent.start
    assert (np.repeat(TS, 10)[plan.recent] >= mature_until).all()


def test_a_history_without_enough_recent_rows_is_refused_with_the_reason() -> None:
    labels = np.zeros(len(TS), dtype=np.int8)
    with pytest.raises(RefitError, match=f"at least {MIN_RECENT_ROWS:,} rows"):
        refit_rows(TS, 48, labels, label_delay_days=1.0)  # 24 recent rows
    with pytest.raises(RefitError, match="train without --refit"):
        refit_rows(TS, 48, labels, label_delay_days=0.0)


def test_known_frauds_among_the_recent_rows_do_not_count_towards_calibration() -> None:
    ts = np.repeat(TS, 10)
    labels = np.zeros(len(ts), dtype=np.int8)
    recent = ts >= int(TS[-1]) + 1 - 2 * DAY_MS  # 480 rows
    assert recent.sum() < MIN_RECENT_ROWS
    plan_days = 5.0  # 1,200 recent rows, of which 300 known frauds: 900 left
    recent5 = ts >= int(TS[-1]) + 1 - int(plan_days * DAY_MS)
    labels[np.flatnonzero(recent5)[:300]] = 1
    with pytest.raises(RefitError, match="this history has 900"):
        refit_rows(ts, 480, labels, label_delay_days=plan_days)
