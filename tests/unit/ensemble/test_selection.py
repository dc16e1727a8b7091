"""The ensemble is chosen on held-back validation rows and never loses to a component alone."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from ensemble.combination import DEFAULT, Combination, LogisticStacker, WeightedSum, from_dict
from ensemble.manifest import BundleError
from ensemble.selection import Selection, choose


def components(
    n: int, seed: int, forest_signal: float, xgb_signal: float = 2.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validation-like rows: p from a noisy margin, an anomaly in [0, 1] whose link to
    fraud is forest_signal (negative: the forest points at legitimate rows)."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.05).astype(np.int8)
    p = 1.0 / (1.0 + np.exp(-(xgb_signal * y + rng.normal(0, 1, n) - 3.0)))
    anomaly = np.clip(0.3 + forest_signal * y + rng.normal(0, 0.15, n), 0.0, 1.0)
    return p, anomaly, y


def later_half_ap(y: np.ndarray, score: np.ndarray) -> float:
    half = len(y) // 2
    return float(average_precision_score(y[half:], score[half:]))


def test_forest_weight_zero_wins_when_the_forest_misleads_on_the_compared_rows() -> None:
    # The forest helps on the earlier half (the stacker learns to use it) and points the
    # wrong way on the later half: every candidate using it loses there.
    p1, a1, y1 = components(4_000, 1, forest_signal=0.4)
    p2, a2, y2 = components(4_000, 2, forest_signal=-0.4)
    s = choose(np.r_[p1, p2], np.r_[a1, a2], np.r_[y1, y2])
    assert s.chosen.name == "xgboost alone"
    assert s.chosen.combination == WeightedSum(xgboost=1.0, isolation_forest=0.0)
    stacker = next(c for c in s.candidates if c.name == "stacker")
    assert isinstance(stacker.combination, LogisticStacker)
    assert stacker.combination.anomaly > 0  # it was fitted on the earlier half only
    assert (s.fit_rows, s.compare_rows) == (4_000, 4_000)


def test_a_forest_with_signal_of_its_own_is_used() -> None:
    p, a, y = components(8_000, 3, forest_signal=0.3, xgb_signal=1.0)
    s = choose(p, a, y)
    assert s.chosen.name != "xgboost alone"
    chosen = s.chosen.metrics["average_precision"]
    assert chosen is not None
    assert chosen > later_half_ap(y, p) + 0.01


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("forest_signal", [-0.3, 0.0, 0.05, 0.3])
def test_the_choice_is_never_worse_than_the_best_component(seed: int, forest_signal: float) -> None:
    p, a, y = components(3_000, seed, forest_signal)
    s = choose(p, a, y)
    best = max(later_half_ap(y, p), later_half_ap(y, a))
    chosen = s.chosen.metrics["average_precision"]
    assert chosen is not None
    assert chosen >= best
    assert chosen == pytest.approx(later_half_ap(y, s.chosen.combination.batch(p, a)))
    assert chosen == max(c.metrics["average_precision"] or 0.0 for c in s.candidates)


def test_the_stacker_is_fitted_on_the_earlier_half_only() -> None:
    p, a, y = components(4_000, 4, forest_signal=0.2)
    first = choose(p, a, y)
    p2, a2, y2 = p.copy(), a.copy(), y.copy()
    rng = np.random.default_rng(9)
    a2[2_000:] = rng.random(2_000)  # change the compared half entirely
    p2[2_000:] = rng.random(2_000)
    second = choose(p2, a2, y2)

    def stacker(s: Selection) -> Combination:
        return next(c.combination for c in s.candidates if c.name == "stacker")

    assert stacker(first) == stacker(second)


def test_equal_candidates_keep_the_design_default() -> None:
    y = np.array([0, 1] * 200, dtype=np.int8)
    p = y * 0.8 + 0.1  # separates perfectly: every candidate has AP 1
    s = choose(p, p.copy(), y)
    assert s.chosen.combination == DEFAULT


def test_too_few_frauds_to_hold_rows_back_compares_weights_on_all_of_validation() -> None:
    y = np.zeros(100, dtype=np.int8)
    y[10] = 1  # the later half has no fraud
    p = np.linspace(0.1, 0.2, 100)
    s = choose(p, np.zeros(100), y)
    assert s.compare_rows == 100
    assert all(c.name != "stacker" for c in s.candidates)
    assert s.notes


@pytest.mark.parametrize(
    "combination",
    [DEFAULT, WeightedSum(1.0, 0.0), LogisticStacker(-3.1, 1.2, 0.7), LogisticStacker(80, 9, -90)],
)
def test_row_and_batch_combinations_are_the_same_numbers(combination: Combination) -> None:
    rng = np.random.default_rng(0)
    p = np.r_[0.0, 1.0, 1e-9, 1 - 1e-9, rng.random(500)]
    a = np.r_[0.0, 1.0, 0.5, 1.0, rng.random(500)]
    batch = combination.batch(p, a)
    rows = [combination.row(float(pi), float(ai)) for pi, ai in zip(p, a, strict=True)]
    np.testing.assert_allclose(rows, batch, rtol=1e-12, atol=1e-15)
    assert np.isfinite(batch).all()
    assert ((batch >= 0) & (batch <= 1)).all()
    assert from_dict(combination.as_dict()) == combination


def test_an_unknown_combination_is_refused() -> None:
    with pytest.raises(BundleError, match="retrain"):
        from_dict({"kind": "neural"})
    with pytest.raises(BundleError, match="unreadable"):
        from_dict({"kind": "weights", "xgboost": 1.0})
