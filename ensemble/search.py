"""XGBoost fitting with early stopping on validation, and a small hyper-parameter search.

The configured parameters are always tried first; the others of TRIALS follow, each
scored by validation average precision, while the time budget lasts (a trial that
starts before the budget is spent runs to its end). Validation is the time split's:
rows after the train rows and a gap; the test rows are never looked at here.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import xgboost as xgb
from sklearn.metrics import average_precision_score

from ensemble.progress import Progress


@dataclass(frozen=True, slots=True)
class HyperParams:
    max_depth: int
    min_child_weight: float
    learning_rate: float


# Tried after the configured parameters, in this order: shallower and faster, deeper and
# slower, more regularised leaves.
TRIALS: tuple[HyperParams, ...] = (
    HyperParams(max_depth=4, min_child_weight=1.0, learning_rate=0.1),
    HyperParams(max_depth=8, min_child_weight=4.0, learning_rate=0.05),
    HyperParams(max_depth=6, min_child_weight=10.0, learning_rate=0.08),
    HyperParams(max_depth=3, min_child_weight=1.0, learning_rate=0.2),
    HyperParams(max_depth=10, min_child_weight=2.0, learning_rate=0.05),
    HyperParams(max_depth=5, min_child_weight=5.0, learning_rate=0.15),
)


@dataclass(frozen=True, slots=True)
class Fixed:
    """What the search does not vary."""

    n_estimators: int
    early_stopping_rounds: int
    seed: int
    threads: int


@dataclass(frozen=True, slots=True)
class Trial:
    params: HyperParams
    validation_average_precision: float
    trees: int
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self.params) | {
            "validation_average_precision": self.validation_average_precision,
            "trees": self.trees,
            "seconds": round(self.seconds, 2),
        }


@dataclass(frozen=True, slots=True)
class SearchResult:
    booster: xgb.Booster  # of the chosen trial
    chosen: Trial
    trials: list[Trial]  # in the order tried, the configured parameters first

    def as_dict(self, budget_s: float) -> dict[str, Any]:
        return {
            "budget_s": budget_s,
            "chosen": self.trials.index(self.chosen),
            "metric": "validation average precision (XGBoost alone)",
            "trials": [t.as_dict() for t in self.trials],
        }


def fit_xgboost(
    hp: HyperParams,
    fixed: Fixed,
    train: xgb.DMatrix,
    validation: xgb.DMatrix,
    progress: Progress,
    label: str = "training XGBoost",
) -> xgb.Booster:
    y = train.get_label()
    positives = max(int(y.sum()), 1)
    params = {
        "objective": "binary:logistic",
        "eval_metric": "aucpr",
        "tree_method": "hist",
        "max_depth": hp.max_depth,
        "eta": hp.learning_rate,
        "subsample": 0.8,
        "colsample_bytree": 0.6,
        "min_child_weight": hp.min_child_weight,
        # Class imbalance: weigh the rare fraud rows up to balance the classes.
        "scale_pos_weight": (len(y) - positives) / positives,
        "nthread": fixed.threads,
        "seed": fixed.seed,
    }
    rounds = progress.task(label, fixed.n_estimators)

    class Tick(xgb.callback.TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            rounds(1)
            return False

    booster = xgb.train(
        params,
        train,
        num_boost_round=fixed.n_estimators,
        evals=[(validation, "validation")],
        early_stopping_rounds=fixed.early_stopping_rounds,
        callbacks=[Tick()],
        verbose_eval=False,
    )
    if booster.num_boosted_rounds() < fixed.n_estimators:  # early stopping
        rounds.finish("stopped early")
    # Keep exactly the trees up to the best validation round.
    return booster[: booster.best_iteration + 1]


def search(
    configured: HyperParams,
    fixed: Fixed,
    train: xgb.DMatrix,
    validation: xgb.DMatrix,
    budget_s: float,
    progress: Progress,
    trials: tuple[HyperParams, ...] = TRIALS,
) -> SearchResult:
    """The best trial by validation average precision (the first of equals) and its booster.
    `train` is best a QuantileDMatrix (the quantized form `hist` trains on; a DMatrix would
    also hold a sparse copy of the floats): ensemble/chunks.py builds it."""
    y_val = validation.get_label()
    started = time.perf_counter()
    best: tuple[Trial, xgb.Booster] | None = None
    done: list[Trial] = []
    candidates = [configured, *(t for t in trials if t != configured)]
    for k, hp in enumerate(candidates):
        if k and time.perf_counter() - started >= budget_s:
            break
        began = time.perf_counter()
        label = "training XGBoost" if k == 0 else f"search: trial {k + 1}"
        booster = fit_xgboost(hp, fixed, train, validation, progress, label)
        ap = float(average_precision_score(y_val, booster.predict(validation)))
        trial = Trial(hp, ap, booster.num_boosted_rounds(), time.perf_counter() - began)
        done.append(trial)
        if best is None or ap > best[0].validation_average_precision:
            best = (trial, booster)
    assert best is not None  # the configured parameters are always tried
    return SearchResult(best[1], best[0], done)
