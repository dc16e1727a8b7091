"""The hyper-parameter search: the configured parameters first, others while the budget lasts;
a fit's progress bar ends where its training did."""

from __future__ import annotations

import numpy as np
import pytest
import xgboost as xgb

from ensemble.progress import NoProgress
from ensemble.search import Fixed, HyperParams, SearchResult, fit_xgboost, search
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


def run(data: tuple[np.ndarray, ...], budget_s: float) -> SearchResult:
    x_train, y_train, x_val, y_val = data
    return search(
        CONFIGURED,
        Fixed(n_estimators=30, early_stopping_rounds=10, seed=1, threads=1),
        xgb.QuantileDMatrix(x_train, label=y_train, feature_names=list(NAMES)),
        xgb.DMatrix(x_val, label=y_val, feature_names=list(NAMES)),
        budget_s=budget_s,
        progress=NoProgress(),
        trials=OTHERS,
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
