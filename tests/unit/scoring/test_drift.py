"""The live drift window: counts recent batches by time, forgets old buckets, and gives
figures only once it holds enough rows."""

from __future__ import annotations

import numpy as np
import pytest

from ensemble.drift_reference import DriftReference
from features.definitions import FEATURE_NAMES
from scoring.drift import FLUSH_ROWS, DriftWindow

WATCHED = ["amount", "card_count_1h"]


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def matrix(rows: int, amount_scale: float = 1.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    m = np.full((rows, len(FEATURE_NAMES)), np.nan, dtype=np.float32)
    m[:, FEATURE_NAMES.index("amount")] = rng.lognormal(3, 1, rows) * amount_scale
    m[: rows // 2, FEATURE_NAMES.index("card_count_1h")] = rng.integers(0, 5, rows // 2)
    return m


def window(clock: Clock, min_rows: int = 100) -> DriftWindow:
    ref = DriftReference.build(
        matrix(5_000), np.random.default_rng(0).uniform(size=5_000), FEATURE_NAMES, WATCHED
    )
    return DriftWindow(ref, window_s=60, buckets=6, min_rows=min_rows, clock=clock)


def test_traffic_like_the_reference_shows_no_drift_and_shifted_traffic_does() -> None:
    clock = Clock()
    live = window(clock)
    for seed in range(1, 11):
        live.observe(matrix(200, seed=seed), np.random.default_rng(seed).uniform(size=200))
    calm = live.figures()
    assert calm.rows == 2_000
    assert calm.psi.max() < 0.1
    assert calm.score_psi < 0.1
    assert calm.missing_share[WATCHED.index("card_count_1h")] == pytest.approx(0.5)
    assert calm.reference_missing_share.tolist() == pytest.approx([0.0, 0.5])

    for seed in range(11, 31):
        live.observe(matrix(200, amount_scale=10, seed=seed), np.full(200, 0.95))
    shifted = live.figures()
    assert shifted.psi[WATCHED.index("amount")] >= 0.2
    assert shifted.psi[WATCHED.index("card_count_1h")] < 0.1
    assert shifted.score_psi >= 0.2


def test_buckets_older_than_the_window_are_forgotten() -> None:
    clock = Clock()
    live = window(clock, min_rows=1)
    live.observe(matrix(300, amount_scale=10), np.full(300, 0.95))
    clock.now += 30
    live.observe(matrix(100, seed=3), np.random.default_rng(3).uniform(size=100))
    assert live.figures().rows == 400
    clock.now += 35  # the first batch's bucket is now more than 60 s old
    after = live.figures()
    assert after.rows == 100
    clock.now += 600
    assert live.figures().rows == 0


def test_no_psi_below_the_least_rows() -> None:
    clock = Clock()
    live = window(clock, min_rows=500)
    live.observe(matrix(499, amount_scale=10), np.full(499, 0.95))
    few = live.figures()
    assert np.isnan(few.psi).all()
    assert np.isnan(few.score_psi)
    assert few.rows == 499
    live.observe(matrix(1, amount_scale=10), np.full(1, 0.95))
    assert not np.isnan(live.figures().psi).any()


def test_an_empty_batch_changes_nothing() -> None:
    live = window(Clock(), min_rows=1)
    live.observe(matrix(0), np.empty(0))
    assert live.figures().rows == 0


def test_held_batches_count_in_the_bucket_of_their_arrival() -> None:
    """Small batches are held and binned later; they still age with the time they came."""
    clock = Clock()
    live = window(clock, min_rows=1)
    for seed in range(3):  # 60 rows: under FLUSH_ROWS, held
        live.observe(matrix(20, seed=seed), np.full(20, 0.5))
    clock.now += 30
    live.observe(matrix(10, seed=9), np.full(10, 0.5))
    assert live.figures().rows == 70
    clock.now += 35  # the first 60 rows' bucket is now more than 60 s old
    assert live.figures().rows == 10


def test_many_small_batches_are_binned_as_one() -> None:
    clock = Clock()
    live, whole = window(clock, min_rows=1), window(clock, min_rows=1)
    block = matrix(FLUSH_ROWS * 2 + 7)
    scores = np.random.default_rng(1).uniform(size=len(block))
    for i in range(len(block)):
        live.observe(block[i : i + 1], scores[i : i + 1])
    whole.observe(block, scores)
    assert all(np.array_equal(a, b) for a, b in zip(live.counts(), whole.counts(), strict=True))
