"""The hyper-parameter search: the configured parameters first, others while the budget lasts."""

from __future__ import annotations

import numpy as np
import pytest
import xgboost as xgb

from ensemble.progress import NoProgress
from ensemble.search import Fixed, HyperParams, SearchResult, search

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
