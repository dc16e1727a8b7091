"""Risk tiers: thresholds calibrated on validation data by false-positive rate."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from vocabulary import TIERS

# Share of legitimate validation traffic allowed at or above each tier.
DEFAULT_TIER_FPR: dict[str, float] = {"critical": 0.001, "high": 0.005, "medium": 0.02}


@dataclass(frozen=True, slots=True)
class Thresholds:
    medium: float
    high: float
    critical: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def calibrate(legit_scores: np.ndarray, tier_fpr: dict[str, float] | None = None) -> Thresholds:
    """Thresholds such that the given share of legitimate scores lands at or above each tier."""
    fpr = tier_fpr or DEFAULT_TIER_FPR
    if not fpr["critical"] < fpr["high"] < fpr["medium"] < 1:
        raise ValueError(
            f"tier false-positive rates must satisfy critical < high < medium < 1: {fpr}"
        )
    if len(legit_scores) == 0:
        raise ValueError("no legitimate validation rows to calibrate tiers on")

    def cut(rate: float) -> float:
        # The smallest score that keeps at most `rate` of legitimate scores at or above it.
        q = float(np.quantile(legit_scores, 1.0 - rate, method="higher"))
        return float(np.nextafter(q, np.inf))

    medium, high, critical = cut(fpr["medium"]), cut(fpr["high"]), cut(fpr["critical"])
    return Thresholds(medium=medium, high=max(high, medium), critical=max(critical, high, medium))


def assign_tiers(scores: np.ndarray, t: Thresholds) -> np.ndarray:
    idx = (scores >= t.medium).astype(np.int8) + (scores >= t.high) + (scores >= t.critical)
    return np.asarray(TIERS, dtype=object)[idx]


def tier_of(score: float, t: Thresholds) -> str:
    if score >= t.critical:
        return "critical"
    if score >= t.high:
        return "high"
    return "medium" if score >= t.medium else "low"
