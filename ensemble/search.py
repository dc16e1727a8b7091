"""XGBoost fitting with early stopping on validation, and the training choices made on it.

Two kinds of choice, each scored by validation average precision (XGBoost alone):

- **Which rows teach, and how much** (`RowWeights`): all training rows equally, only the
  last weeks, or every row weighted by its recency (a half-life in days). Fraud changes
  its mechanics; a model taught mostly by the recent past can rank today's fraud better,
  or worse where the recent past holds few frauds. Weights are sample weights on the same
  quantized matrix, so a window costs no second copy of the rows.
- **Regularisation** (`HyperParams`): depth, leaf weight, column sampling, learning rate.

The configured choice is always tried first. Then the row choices with the configured
parameters, then the parameter trials with the best row choice so far, while the time
budget lasts (a trial that starts before the budget is spent runs to its end).
Validation is the time split's: rows after the train rows and a gap; the test rows are
never looked at here.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import xgboost as xgb
from sklearn.metrics import average_precision_score, roc_auc_score

from ensemble.progress import Progress
from features.definitions import DAY_MS

# Every fit's column sampling before the search varied it (older manifests' trials lack it).
COLSAMPLE_BYTREE = 0.6


@dataclass(frozen=True, slots=True)
class HyperParams:
    max_depth: int
    min_child_weight: float
    learning_rate: float
    colsample_bytree: float = COLSAMPLE_BYTREE


@dataclass(frozen=True, slots=True)
class RowWeights:
    """Training rows older than `window_days` before the newest one weigh 0 (None: none
    is left out); the others 0.5 ** (age in days / `half_life_days`) (None: 1)."""

    window_days: float | None = None
    half_life_days: float | None = None

    def weights(self, ts_ms: np.ndarray) -> np.ndarray | None:
        """Per-row weights for rows with timestamps `ts_ms`; None where every row weighs 1."""
        if self.window_days is None and self.half_life_days is None:
            return None
        age_days = (int(ts_ms.max()) - ts_ms.astype(np.float64)) / DAY_MS
        w = np.ones(len(ts_ms), dtype=np.float32)
        if self.half_life_days is not None:
            w = np.power(0.5, age_days / self.half_life_days).astype(np.float32)
        if self.window_days is not None:
            w[age_days > self.window_days] = 0.0
        return w

    def covers(self, ts_ms: np.ndarray) -> bool:
        """Whether this choice weighs every row 1 (a window as long as the rows)."""
        span_days = (int(ts_ms.max()) - int(ts_ms.min())) / DAY_MS
        return self.half_life_days is None and (
            self.window_days is None or self.window_days >= span_days
        )


ALL_ROWS = RowWeights()
# Tried after the configured rows: the recent past weighted up, then the last weeks only.
ROW_TRIALS: tuple[RowWeights, ...] = (
    RowWeights(half_life_days=14.0),
    RowWeights(window_days=28.0),
    RowWeights(half_life_days=45.0),
    RowWeights(window_days=56.0),
)
# Tried after the row choices, in this order: stronger regularisation first (a model
# that generalises across the weeks), then shallower and faster, deeper and slower.
TRIALS: tuple[HyperParams, ...] = (
    HyperParams(max_depth=6, min_child_weight=10.0, learning_rate=0.08, colsample_bytree=0.4),
    HyperParams(max_depth=4, min_child_weight=1.0, learning_rate=0.1),
    HyperParams(max_depth=8, min_child_weight=4.0, learning_rate=0.05),
    HyperParams(max_depth=5, min_child_weight=5.0, learning_rate=0.15, colsample_bytree=0.8),
    HyperParams(max_depth=3, min_child_weight=1.0, learning_rate=0.2),
    HyperParams(max_depth=10, min_child_weight=2.0, learning_rate=0.05, colsample_bytree=0.3),
)


@dataclass(frozen=True, slots=True)
class Fixed:
    """What the search does not vary."""

    n_estimators: int
    early_stopping_rounds: int
    seed: int
    threads: int


@dataclass(frozen=True, slots=True)
class Choice:
    params: HyperParams
    rows: RowWeights = ALL_ROWS


@dataclass(frozen=True, slots=True)
class Trial:
    choice: Choice
    validation_average_precision: float
    trees: int
    seconds: float
    validation_roc_auc: float = float("nan")  # shown, not chosen on

    @property
    def params(self) -> HyperParams:
        return self.choice.params

    def as_dict(self) -> dict[str, Any]:
        return (
            asdict(self.choice.params)
            | asdict(self.choice.rows)
            | {
                "validation_average_precision": self.validation_average_precision,
                "validation_roc_auc": self.validation_roc_auc,
                "trees": self.trees,
                "seconds": round(self.seconds, 2),
            }
        )


@dataclass(frozen=True, slots=True)
class SearchResult:
    booster: xgb.Booster  # of the chosen trial
    chosen: Trial
    trials: list[Trial]  # in the order tried, the configured choice first

    def as_dict(self, budget_s: float) -> dict[str, Any]:
        return {
            "budget_s": budget_s,
            "chosen": self.trials.index(self.chosen),
            "metric": "validation average precision (XGBoost alone)",
            "trials": [t.as_dict() for t in self.trials],
        }


def xgboost_params(
    hp: HyperParams, fixed: Fixed, labels: np.ndarray, weights: np.ndarray | None
) -> dict[str, Any]:
    """The booster's parameters; the fraud rows weighed up to balance the (weighted) classes."""
    w = np.ones(len(labels)) if weights is None else weights.astype(np.float64)
    fraud = float(w[labels > 0].sum())
    legitimate = float(w[labels <= 0].sum())
    return {
        "objective": "binary:logistic",
        "eval_metric": "aucpr",
        "tree_method": "hist",
        "max_depth": hp.max_depth,
        "eta": hp.learning_rate,
        "subsample": 0.8,
        "colsample_bytree": hp.colsample_bytree,
        "min_child_weight": hp.min_child_weight,
        "scale_pos_weight": legitimate / fraud if fraud else 1.0,
        "nthread": fixed.threads,
        "seed": fixed.seed,
    }


def fit_xgboost(
    hp: HyperParams,
    fixed: Fixed,
    train: xgb.DMatrix,
    validation: xgb.DMatrix | None,
    progress: Progress,
    label: str = "training XGBoost",
    weights: np.ndarray | None = None,
) -> xgb.Booster:
    """With `validation`: early stopping on it, the trees up to its best round kept. Without:
    exactly `fixed.n_estimators` trees (a refit, its count chosen on validation before)."""
    train.set_weight(np.array([], dtype=np.float32) if weights is None else weights)
    params = xgboost_params(hp, fixed, train.get_label(), weights)
    rounds = progress.task(label, fixed.n_estimators)

    class Tick(xgb.callback.TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            rounds(1)
            return False

    booster = xgb.train(
        params,
        train,
        num_boost_round=fixed.n_estimators,
        evals=[(validation, "validation")] if validation is not None else [],
        early_stopping_rounds=fixed.early_stopping_rounds if validation is not None else None,
        callbacks=[Tick()],
        verbose_eval=False,
    )
    if validation is None:
        return booster
    if booster.num_boosted_rounds() < fixed.n_estimators:  # early stopping
        rounds.finish("stopped early")
    # Keep exactly the trees up to the best validation round.
    return booster[: booster.best_iteration + 1]


def search(
    configured: Choice,
    fixed: Fixed,
    train: xgb.DMatrix,
    validation: xgb.DMatrix,
    budget_s: float,
    progress: Progress,
    train_ts_ms: np.ndarray,
    trials: tuple[HyperParams, ...] = TRIALS,
    row_trials: tuple[RowWeights, ...] = ROW_TRIALS,
) -> SearchResult:
    """The best trial by validation average precision (the first of equals) and its booster.
    `train` is best a QuantileDMatrix (the quantized form `hist` trains on; a DMatrix would
    also hold a sparse copy of the floats): ensemble/chunks.py builds it. `train_ts_ms`:
    its rows' timestamps, for the row choices; a row choice that weighs every row as the
    configured one does is not tried again."""
    y_val = validation.get_label()
    started = time.perf_counter()
    done: list[Trial] = []
    best: tuple[Trial, xgb.Booster] | None = None  # only the best trial's booster is kept

    def candidates() -> Iterator[Choice]:
        yield configured
        seen = {configured.rows}
        for rows in row_trials:
            same = rows.covers(train_ts_ms) and configured.rows.covers(train_ts_ms)
            if rows not in seen and not same:
                seen.add(rows)
                yield replace(configured, rows=rows)
        for hp in trials:
            if hp != configured.params:
                assert best is not None  # the configured choice was tried first
                yield Choice(hp, best[0].choice.rows)

    for k, choice in enumerate(candidates()):
        if k and time.perf_counter() - started >= budget_s:
            break
        began = time.perf_counter()
        label = "training XGBoost" if k == 0 else f"search: trial {k + 1}"
        booster = fit_xgboost(
            choice.params,
            fixed,
            train,
            validation,
            progress,
            label,
            choice.rows.weights(train_ts_ms),
        )
        predicted = booster.predict(validation)
        ap = float(average_precision_score(y_val, predicted))
        auc = float(roc_auc_score(y_val, predicted))
        trial = Trial(choice, ap, booster.num_boosted_rounds(), time.perf_counter() - began, auc)
        done.append(trial)
        if best is None or ap > best[0].validation_average_precision:  # the first of equals
            best = (trial, booster)
    assert best is not None  # the configured choice is always tried
    return SearchResult(best[1], best[0], done)
