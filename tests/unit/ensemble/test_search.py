"""The search over training choices: the configured choice first, then which rows teach, then
the regularisation with the best rows, while the budget lasts; a fit's progress bar ends where
its training did."""

from __future__ import annotations

import numpy as np
import pytest
import xgboost as xgb

from ensemble.progress import NoProgress
from ensemble.search import (
    ALL_ROWS,
    Choice,
    Fixed,
    HyperParams,
    RowWeights,
    SearchResult,
    fit_xgboost,
    search,
)
from features.definitions import DAY_MS
from tests.bars import Bar, Bars

NAMES = ("a", "b", "c", "d")
CONFIGURED = HyperParams(max_depth=1, min_child_weight=50.0, learning_rate=0.01)
OTHERS = (
    HyperParams(max_depth=3, min_child_weight=1.0, learning_rate=0.3),
    HyperParams(max_depth=2, min_child_weight=1.0, learning_rate=0.2),
)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1_200, 4)).astype(np.float32)
    # An interaction a depth-1 tree cannot express.
    y = ((x[:, 0] * x[:, 1] > 0.8) ^ (rng.random(1_200) < 0.02)).astype(np.int8)
    return x[:800], y[:800], x[800:], y[800:]


# The training rows' timestamps: 800 rows over 40 days.
TRAIN_TS = (np.arange(800) * (40 * DAY_MS // 800)).astype(np.int64)


def run(
    data: tuple[np.ndarray, ...],
    budget_s: float,
    row_trials: tuple[RowWeights, ...] = (),
) -> SearchResult:
    x_train, y_train, x_val, y_val = data
    return search(
        Choice(CONFIGURED),
        Fixed(n_estimators=30, early_stopping_rounds=10, seed=1, threads=1),
        xgb.QuantileDMatrix(x_train, label=y_train, feature_names=list(NAMES)),
        xgb.DMatrix(x_val, label=y_val, feature_names=list(NAMES)),
        budget_s=budget_s,
        progress=NoProgress(),
        train_ts_ms=TRAIN_TS,
        trials=OTHERS,
        row_trials=row_trials,
    )


def test_no_budget_tries_only_the_configured_parameters(data: tuple[np.ndarray, ...]) -> None:
    found = run(data, 0.0)
    assert [t.params for t in found.trials] == [CONFIGURED]
    assert found.chosen is found.trials[0]


def test_a_budget_tries_the_others_and_keeps_the_best_on_validation(
    data: tuple[np.ndarray, ...],
) -> None:
    found = run(data, 600.0)
    trials = found.trials
    assert [t.params for t in trials] == [CONFIGURED, *OTHERS]
    best = max(trials, key=lambda t: t.validation_average_precision)
    assert found.chosen == best
    assert found.chosen.params != CONFIGURED
    assert found.booster.num_boosted_rounds() == best.trees
    record = found.as_dict(600.0)
    assert record["chosen"] == trials.index(best)
    assert [t["max_depth"] for t in record["trials"]] == [1, 3, 2]


def fit(data: tuple[np.ndarray, ...], hp: HyperParams, fixed: Fixed, bars: Bars) -> xgb.Booster:
    x_train, y_train, x_val, y_val = data
    return fit_xgboost(
        hp,
        fixed,
        xgb.QuantileDMatrix(x_train, label=y_train, feature_names=list(NAMES)),
        xgb.DMatrix(x_val, label=y_val, feature_names=list(NAMES)),
        bars,
    )


def test_a_fit_stopped_early_finishes_its_bar_where_it_stopped(
    data: tuple[np.ndarray, ...],
) -> None:
    """The demo's bar stayed at 185/400, red, its clock running, for the whole run."""
    bars = Bars()
    fixed = Fixed(n_estimators=400, early_stopping_rounds=5, seed=1, threads=1)
    booster = fit(data, OTHERS[0], fixed, bars)
    best = booster.num_boosted_rounds()  # the trees kept: up to the best round
    assert bars.made == [Bar("training XGBoost", 400, done=best + 5, note="stopped early")]
    assert best + 5 < 400


def test_a_fit_of_every_round_leaves_its_bar_full(data: tuple[np.ndarray, ...]) -> None:
    bars = Bars()
    fit(data, CONFIGURED, Fixed(n_estimators=5, early_stopping_rounds=5, seed=1, threads=1), bars)
    assert bars.made == [Bar("training XGBoost", 5, done=5)]


def test_rows_are_chosen_first_and_the_parameters_tried_with_the_best_rows(
    data: tuple[np.ndarray, ...],
) -> None:
    """A window as long as the rows is the configured choice again: not tried. The
    parameter trials use the rows that won among the row choices."""
    recent = RowWeights(window_days=10.0)
    decayed = RowWeights(half_life_days=5.0)
    found = run(data, 600.0, (recent, RowWeights(window_days=90.0), decayed))
    choices = [t.choice for t in found.trials]
    assert choices[:3] == [
        Choice(CONFIGURED),
        Choice(CONFIGURED, recent),
        Choice(CONFIGURED, decayed),
    ]
    best_rows = max(found.trials[:3], key=lambda t: t.validation_average_precision).choice.rows
    assert choices[3:] == [Choice(hp, best_rows) for hp in OTHERS]
    record = found.as_dict(600.0)["trials"]
    assert [(t["window_days"], t["half_life_days"]) for t in record[:3]] == [
        (None, None),
        (10.0, None),
        (None, 5.0),
    ]
    assert all(0.0 <= t["validation_roc_auc"] <= 1.0 for t in record)


def test_row_weights_leave_out_the_old_rows_and_weigh_by_recency() -> None:
    day = np.array([0, 10, 20, 30], dtype=np.int64) * DAY_MS
    assert ALL_ROWS.weights(day) is None
    np.testing.assert_allclose(RowWeights(window_days=15.0).weights(day), [0, 0, 1, 1])
    np.testing.assert_allclose(
        RowWeights(window_days=25.0, half_life_days=10.0).weights(day), [0, 0.25, 0.5, 1]
    )
    assert RowWeights(window_days=30.0).covers(day)
    assert not RowWeights(window_days=29.0).covers(day)
    assert not RowWeights(half_life_days=1_000.0).covers(day)


def test_a_window_teaches_only_its_rows(data: tuple[np.ndarray, ...]) -> None:
    """Rows outside the window weigh 0: the model learns what the recent rows teach, even
    where the old rows say the opposite."""
    x_train, y_train, _, _ = data
    flipped = y_train.copy()
    flipped[:400] = 1 - flipped[:400]  # the first half of the time says the opposite
    window = RowWeights(window_days=19.0)  # the last 381 of the 800 rows (ages 0 to 19 days)
    weights = window.weights(TRAIN_TS)
    assert weights is not None
    assert int(weights.sum()) == 381
    booster = fit_xgboost(
        OTHERS[0],
        Fixed(n_estimators=30, early_stopping_rounds=10, seed=1, threads=1),
        xgb.QuantileDMatrix(x_train, label=flipped, feature_names=list(NAMES)),
        None,
        NoProgress(),
        weights=weights,
    )
    predicted = booster.predict(xgb.DMatrix(x_train[400:], feature_names=list(NAMES)))
    agree = ((predicted > 0.5) == (flipped[400:] == 1)).mean()
    assert agree > 0.9


def test_the_command_searches_as_long_as_training_does_by_default() -> None:
    import inspect

    from cli.main import train as command
    from ensemble.train import DEFAULT_BUDGET_S, TrainConfig

    assert inspect.signature(command).parameters["budget_s"].default == DEFAULT_BUDGET_S
    assert TrainConfig().budget_s == DEFAULT_BUDGET_S > 0
