"""The report's figures: precision-recall curves and the score histogram of the test split."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import precision_recall_curve

from ensemble.bundle import BatchScores
from vocabulary import TIERS

PR_CURVE = "pr_curve.png"
HISTOGRAM = "score_histogram.png"


def write_plots(
    directory: Path,
    y: np.ndarray,
    scores: BatchScores,
    baseline: np.ndarray,
    thresholds: dict[str, float],
) -> None:
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for name, values in (
        ("engine", scores.score),
        ("xgboost", scores.xgboost),
        ("isolation forest", scores.isolation_forest),
        ("textbook baseline", baseline),
    ):
        precision, recall, _ = precision_recall_curve(y, values)
        ax.plot(recall, precision, label=name, linestyle=":" if "baseline" in name else "-")
    ax.set(
        xlabel="recall",
        ylabel="precision",
        title="Precision-recall, test split",
        xlim=(0, 1),
        ylim=(0, 1.02),
    )
    ax.legend()
    fig.tight_layout()
    fig.savefig(directory / PR_CURVE, dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4.5))
    bins = [i / 50 for i in range(51)]
    ax.hist(scores.score[y == 0], bins=bins, alpha=0.6, label="legitimate", log=True)
    ax.hist(scores.score[y == 1], bins=bins, alpha=0.6, label="fraud", log=True)
    for tier in TIERS[1:]:  # the thresholds: where each tier above low starts
        ax.axvline(thresholds[tier], linestyle="--", linewidth=1, color="k")
    ax.set(xlabel="engine score", ylabel="rows (log)", title="Score distribution, test split")
    ax.legend()
    fig.tight_layout()
    fig.savefig(directory / HISTOGRAM, dpi=110)
    plt.close(fig)
