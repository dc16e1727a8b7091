"""Choose how the Isolation Forest enters the score, by validation average precision.

Candidates: fixed weights on the forest (the design's 0.3 first, then 0, 0.05, 0.1, 0.2,
and the forest alone) and a logistic stacker on [logit(p_xgboost), anomaly].

Protocol: the validation rows, in time order, are cut into an earlier half and a later
half. The stacker is fitted on the earlier half only; every candidate, the stacker
included, is compared on the later half, where nothing was fitted. The stacker shipped is
the one compared (not refitted on all of validation). Weights have nothing to fit, so
the later half is their only use. XGBoost alone (weight 0) and the forest alone are
candidates, so the choice is never worse on those rows than the best component.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from ensemble.combination import DEFAULT, P_EPSILON, Combination, LogisticStacker, WeightedSum
from ensemble.quality import component_ranking

# The design's weight first: among exactly equal candidates the earlier one is kept.
FOREST_WEIGHTS: tuple[float, ...] = (
    DEFAULT.isolation_forest,
    0.0,
    0.05,
    0.1,
    0.2,
    1.0,
)
PROTOCOL = (
    "validation in time order: the stacker is fitted on the earlier half, every candidate "
    "is compared by average precision on the later half"
)


@dataclass(frozen=True, slots=True)
class Candidate:
    name: str
    combination: Combination
    metrics: dict[str, float | None]  # on the comparison rows

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "combination": self.combination.as_dict(), **self.metrics}


@dataclass(slots=True)
class Selection:
    chosen: Candidate
    candidates: list[Candidate]
    fit_rows: int
    compare_rows: int
    protocol: str = PROTOCOL
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "chosen": self.chosen.name,
            "description": self.chosen.combination.describe(),
            "protocol": self.protocol,
            "fit_rows": self.fit_rows,
            "compare_rows": self.compare_rows,
            "notes": self.notes,
            "candidates": [c.as_dict() for c in self.candidates],
        }


def weight_name(w_forest: float) -> str:
    if w_forest == 0:
        return "xgboost alone"
    if w_forest == 1:
        return "isolation forest alone"
    return f"weights {1 - w_forest:g}/{w_forest:g}"


def logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, P_EPSILON, 1.0 - P_EPSILON)
    return np.asarray(np.log(q / (1.0 - q)))


def fit_stacker(p: np.ndarray, anomaly: np.ndarray, y: np.ndarray, seed: int) -> LogisticStacker:
    model = LogisticRegression(C=1.0, max_iter=1000, random_state=seed)
    model.fit(np.column_stack([logit(p), anomaly]), y)
    b, c = (float(v) for v in model.coef_[0])
    return LogisticStacker(intercept=float(model.intercept_[0]), xgboost_logit=b, anomaly=c)


def _both_classes(y: np.ndarray) -> bool:
    return bool(y.any() and (~y.astype(bool)).any())


def choose(p: np.ndarray, anomaly: np.ndarray, y: np.ndarray, seed: int = 7) -> Selection:
    """p, anomaly, y: the validation rows in time order (as the time split gives them)."""
    half = len(y) // 2
    fit, compare = slice(0, half), slice(half, len(y))
    notes: list[str] = []
    if not _both_classes(y[compare]):
        # Too little data to hold rows back: compare the weights on all of validation.
        fit, compare = slice(0, 0), slice(0, len(y))
        notes.append("the later half has a single class: weights compared on all of validation")
    combos: list[tuple[str, Combination]] = [
        (weight_name(w), WeightedSum(xgboost=1.0 - w, isolation_forest=w)) for w in FOREST_WEIGHTS
    ]
    if _both_classes(y[fit]):
        combos.append(("stacker", fit_stacker(p[fit], anomaly[fit], y[fit], seed)))
    else:
        notes.append("no stacker: its fitting rows need both classes")
    candidates = [
        Candidate(
            name, combo, component_ranking(y[compare], combo.batch(p[compare], anomaly[compare]))
        )
        for name, combo in combos
    ]
    chosen = max(candidates, key=_ap)  # max keeps the first of equals
    return Selection(
        chosen, candidates, fit.stop - fit.start, compare.stop - compare.start, notes=notes
    )


def _ap(candidate: Candidate) -> float:
    value = candidate.metrics["average_precision"]
    return -1.0 if value is None else value
