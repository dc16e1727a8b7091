"""Fraud metrics: threshold-free ranking quality and the operating point at the review threshold."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from ensemble.tiers import Thresholds, assign_tiers
from features.definitions import DAY_MS
from vocabulary import TIERS

CARDS_PER_DAY = 100
# The metrics set side by side in reports and `fraud evaluate` (engine, baseline, old bundle).
COMPARED = (
    "average_precision",
    "roc_auc",
    "recall_at_fpr_0.01",
    "recall_at_fpr_0.02",
    f"card_precision_at_{CARDS_PER_DAY}",
    "value_detection_rate",
    "precision",
    "recall",
    "false_positive_rate",
)


def recall_at_fpr(y: np.ndarray, score: np.ndarray, fpr_limit: float) -> float:
    """Highest recall reachable while the false-positive rate stays within the limit."""
    fpr, tpr, _ = roc_curve(y, score)
    within = fpr <= fpr_limit
    return float(tpr[within].max()) if within.any() else 0.0


def card_precision_top_k(
    y: np.ndarray, score: np.ndarray, card: np.ndarray, ts_ms: np.ndarray, k: int = CARDS_PER_DAY
) -> float | None:
    """The handbook's card precision top-k: on each (UTC) day, the k cards with the highest
    score that day (their transactions' maximum); the share of them with a fraud that day;
    the mean over days. A day with fewer than k cards ranks all of them."""
    if len(y) == 0:
        return None
    per_card = (
        pd.DataFrame({"day": ts_ms // DAY_MS, "card": card, "score": score, "fraud": y})
        .groupby(["day", "card"], sort=True)
        .agg(score=("score", "max"), fraud=("fraud", "max"))
        .reset_index()
    )
    top = (
        per_card.sort_values(["day", "score"], ascending=[True, False], kind="stable")
        .groupby("day")
        .head(k)
    )
    return float(top.groupby("day")["fraud"].mean().mean())


def average_precision(y: np.ndarray, score: np.ndarray) -> float | None:
    """Average precision of the ranking; None unless both classes are present (it is
    undefined without fraud, and 1.0 without legitimate rows would flatter)."""
    y = y.astype(bool)
    return float(average_precision_score(y, score)) if y.any() and (~y).any() else None


def operating_point(y: np.ndarray, flagged: np.ndarray, amount: np.ndarray) -> dict[str, float]:
    """Precision, recall, F1, false-positive rate and value detection rate (the share of the
    fraud amount among the flagged rows) of one set of flagged rows; 0.0 where a
    denominator is empty. Shared by train/evaluate (flagged: score at or above the review
    threshold) and the performance report (flagged: the stored decision)."""
    y = y.astype(bool)
    tp = int((flagged & y).sum())
    fp = int((flagged & ~y).sum())
    fn = int((~flagged & y).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    fraud_amount = float(amount[y].sum())
    return {
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "false_positive_rate": fp / int((~y).sum()) if (~y).any() else 0.0,
        "value_detection_rate": float(amount[flagged & y].sum()) / fraud_amount
        if fraud_amount
        else 0.0,
    }


def fraud_metrics(
    y: np.ndarray,
    score: np.ndarray,
    amount: np.ndarray,
    thresholds: Thresholds,
    card: np.ndarray | None = None,
    ts_ms: np.ndarray | None = None,
) -> dict[str, Any]:
    """The fraud metrics of train and evaluate (docs/model-quality.md); `review` means score >= the
    medium threshold. With the rows' cards and times, card precision at 100 cards a day too."""
    y = y.astype(bool)
    both = y.any() and (~y).any()
    tiers = assign_tiers(score, thresholds)
    return {
        "rows": len(y),
        "fraud_rows": int(y.sum()),
        "fraud_rate": float(y.mean()) if len(y) else 0.0,
        "average_precision": average_precision(y, score),
        "roc_auc": float(roc_auc_score(y, score)) if both else None,
        "recall_at_fpr_0.01": recall_at_fpr(y, score, 0.01) if both else None,
        "recall_at_fpr_0.02": recall_at_fpr(y, score, 0.02) if both else None,
        **operating_point(y, score >= thresholds.medium, amount),
        **(
            {f"card_precision_at_{CARDS_PER_DAY}": card_precision_top_k(y, score, card, ts_ms)}
            if card is not None and ts_ms is not None
            else {}
        ),
        "review_threshold": thresholds.medium,
        "tier_counts": {t: int((tiers == t).sum()) for t in TIERS},
        "tier_fraud_counts": {t: int(((tiers == t) & y).sum()) for t in TIERS},
    }


def recall_by_group(
    y: np.ndarray, score: np.ndarray, groups: np.ndarray, threshold: float
) -> dict[str, Any]:
    """Recall at the review threshold per fraud scenario (or any label of the rows)."""
    out: dict[str, Any] = {}
    for g in sorted(set(groups[y.astype(bool)].tolist())):
        mine = (groups == g) & y.astype(bool)
        out[str(g)] = {
            "fraud_rows": int(mine.sum()),
            "recall": float((score[mine] >= threshold).mean()),
        }
    return out


def component_ranking(y: np.ndarray, score: np.ndarray) -> dict[str, float | None]:
    both = bool(y.any() and (~y.astype(bool)).any())
    return {
        "average_precision": average_precision(y, score),
        "roc_auc": float(roc_auc_score(y, score)) if both else None,
        "recall_at_fpr_0.01": recall_at_fpr(y, score, 0.01) if both else None,
    }
