"""How the two components become one score: a weighted sum or a logistic stacker.

weights: score = w_xgboost * p + w_isolation_forest * anomaly
stacker: score = sigmoid(intercept + xgboost_logit * logit(p) + anomaly_coef * anomaly)

`batch` and `row` compute the same thing, for many rows (numpy) and for one (floats,
the API's hot path); `fraud train` chooses which one a bundle uses (ensemble/selection.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ensemble.manifest import BundleError

# p is clipped away from 0 and 1 before its logit: the compiled trees can return exactly
# either in float32.
P_EPSILON = 1e-7
# The stacker's linear term is clipped so exp() cannot overflow; sigmoid(50) is 1.0 in float64.
Z_LIMIT = 50.0


@dataclass(frozen=True, slots=True)
class WeightedSum:
    xgboost: float
    isolation_forest: float

    kind = "weights"

    def batch(self, p: np.ndarray, anomaly: np.ndarray) -> np.ndarray:
        return np.asarray(self.xgboost * p + self.isolation_forest * anomaly, dtype=np.float64)

    def row(self, p: float, anomaly: float) -> float:
        return self.xgboost * p + self.isolation_forest * anomaly

    def describe(self) -> str:
        return f"{self.xgboost:g} x p_xgboost + {self.isolation_forest:g} x anomaly"

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "xgboost": self.xgboost,
            "isolation_forest": self.isolation_forest,
        }


@dataclass(frozen=True, slots=True)
class LogisticStacker:
    intercept: float
    xgboost_logit: float
    anomaly: float

    kind = "stacker"

    def batch(self, p: np.ndarray, anomaly: np.ndarray) -> np.ndarray:
        q = np.clip(p, P_EPSILON, 1.0 - P_EPSILON)
        z = self.intercept + self.xgboost_logit * np.log(q / (1.0 - q)) + self.anomaly * anomaly
        return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -Z_LIMIT, Z_LIMIT))), dtype=np.float64)

    def row(self, p: float, anomaly: float) -> float:
        q = min(max(p, P_EPSILON), 1.0 - P_EPSILON)
        z = self.intercept + self.xgboost_logit * math.log(q / (1.0 - q)) + self.anomaly * anomaly
        return 1.0 / (1.0 + math.exp(-min(max(z, -Z_LIMIT), Z_LIMIT)))

    def describe(self) -> str:
        def term(value: float) -> str:
            return f"{'-' if value < 0 else '+'} {abs(value):.3f}"

        return (
            f"sigmoid({self.intercept:.3f} {term(self.xgboost_logit)} x logit(p_xgboost) "
            f"{term(self.anomaly)} x anomaly)"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "intercept": self.intercept,
            "xgboost_logit": self.xgboost_logit,
            "anomaly": self.anomaly,
        }


Combination = WeightedSum | LogisticStacker
DEFAULT = WeightedSum(xgboost=0.7, isolation_forest=0.3)  # the design's weights


def from_dict(raw: dict[str, Any]) -> Combination:
    """The manifest's `combination` block; BundleError for anything else."""
    fields = {k: v for k, v in raw.items() if k != "kind"}
    try:
        if raw.get("kind") == WeightedSum.kind:
            return WeightedSum(**{k: float(v) for k, v in fields.items()})
        if raw.get("kind") == LogisticStacker.kind:
            return LogisticStacker(**{k: float(v) for k, v in fields.items()})
    except (TypeError, ValueError) as exc:
        raise BundleError(f"unreadable combination {raw}: {exc}") from exc
    raise BundleError(f"unknown combination {raw.get('kind')!r}; retrain with `fraud train`")
