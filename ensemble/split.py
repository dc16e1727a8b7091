"""Split a history by event time into train / validation / test, with gaps between them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.definitions import DAY_MS


@dataclass(frozen=True, slots=True)
class TimeSplit:
    train: np.ndarray  # row indices
    validation: np.ndarray
    test: np.ndarray
    boundaries_ms: tuple[int, int, int, int]  # train start, validation start, test start, end


def split_by_time(
    ts_ms: np.ndarray,
    validation_share: float = 0.2,
    test_share: float = 0.2,
    gap_days: float = 1.0,
    warmup_days: float = 7.0,
) -> TimeSplit:
    """Rows in the first `warmup_days` only build window state; they are not trained on,
    because their windows are incomplete. A gap separates each part from the next."""
    start, end = int(ts_ms.min()), int(ts_ms.max()) + 1
    gap = int(gap_days * DAY_MS)
    train_start = start + int(warmup_days * DAY_MS)
    usable = end - train_start - 2 * gap
    if usable <= 0:
        raise ValueError("history too short: it must span the warm-up, two gaps and some data")
    test_start = end - int(usable * test_share)
    val_start = test_start - gap - int(usable * validation_share)
    train = np.flatnonzero((ts_ms >= train_start) & (ts_ms < val_start - gap))
    validation = np.flatnonzero((ts_ms >= val_start) & (ts_ms < test_start - gap))
    test = np.flatnonzero(ts_ms >= test_start)
    return TimeSplit(train, validation, test, (train_start, val_start, test_start, end))
