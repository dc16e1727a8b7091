"""The bundle's human-readable report.md with a precision-recall curve and score histograms."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import xgboost as xgb
from sklearn.metrics import precision_recall_curve

from ensemble.bundle import BatchScores
from ensemble.manifest import Manifest
from ensemble.tiers import TIERS

PR_CURVE = "pr_curve.png"
HISTOGRAM = "score_histogram.png"
METRIC_ROWS = (
    "average_precision",
    "roc_auc",
    "recall_at_fpr_0.01",
    "recall_at_fpr_0.02",
    "precision",
    "recall",
    "f1",
    "false_positive_rate",
    "value_detection_rate",
)


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)


def _plots(
    directory: Path, y: np.ndarray, scores: BatchScores, thresholds: dict[str, float]
) -> None:
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for name, values in (
        ("ensemble", scores.score),
        ("xgboost", scores.xgboost),
        ("isolation forest", scores.isolation_forest),
    ):
        precision, recall, _ = precision_recall_curve(y, values)
        ax.plot(recall, precision, label=name)
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
    for tier in ("medium", "high", "critical"):
        ax.axvline(thresholds[tier], linestyle="--", linewidth=1, color="k")
    ax.set(xlabel="ensemble score", ylabel="rows (log)", title="Score distribution, test split")
    ax.legend()
    fig.tight_layout()
    fig.savefig(directory / HISTOGRAM, dpi=110)
    plt.close(fig)


def write_report(
    directory: Path, manifest: Manifest, y: np.ndarray, scores: BatchScores, booster: xgb.Booster
) -> None:
    _plots(directory, y, scores, manifest.thresholds)
    m = manifest.metrics
    lines = [
        f"# Model report {manifest.model_version}",
        "",
        f"Trained on `{manifest.training_data['path']}` ({manifest.training_data['rows']:,} rows, "
        f"{manifest.training_data['fraud_rows']:,} fraud, sha256 `{manifest.training_data['sha256'][:12]}`).",
        f"Split by event time with {manifest.split['gap_days']} day gaps after a "
        f"{manifest.split['warmup_days']} day warm-up: train {manifest.split['train_rows']:,}, "
        f"validation {manifest.split['validation_rows']:,}, test {manifest.split['test_rows']:,} rows "
        f"(boundaries {', '.join(manifest.split['boundaries'])}).",
        f"Ensemble: {manifest.weights['xgboost']} x XGBoost ({manifest.libraries['xgboost'].num_tree} trees) + "
        f"{manifest.weights['isolation_forest']} x Isolation Forest "
        f"({manifest.libraries['isolation_forest'].num_tree} trees), compiled with tl2cgen.",
        "",
        "## Metrics",
        "",
        "Operating point: `review` = score at or above the medium threshold.",
        "",
        "| metric | validation | test |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {k} | {_fmt(m['validation'][k])} | {_fmt(m['test'][k])} |" for k in METRIC_ROWS]
    lines += [
        "",
        "Each component alone on the test split (threshold-free):",
        "",
        "| component | average_precision | roc_auc | recall_at_fpr_0.01 |",
        "| --- | --- | --- | --- |",
    ]
    for name, c in m["test_components"].items():
        lines.append(
            f"| {name} | {_fmt(c['average_precision'])} | {_fmt(c['roc_auc'])} | "
            f"{_fmt(c['recall_at_fpr_0.01'])} |"
        )
    lines += [
        "",
        "## Tiers",
        "",
        "Thresholds calibrated on legitimate validation scores by false-positive rate.",
        "",
        "| tier | threshold | target FPR | test rows | test fraud rows |",
        "| --- | --- | --- | --- | --- |",
    ]
    for tier in TIERS:
        threshold = manifest.thresholds.get(tier)
        lines.append(
            f"| {tier} | {_fmt(threshold)} | {_fmt(manifest.tier_fpr.get(tier))} | "
            f"{m['test']['tier_counts'][tier]:,} | {m['test']['tier_fraud_counts'][tier]:,} |"
        )
    if "test_recall_by_scenario" in m:
        lines += [
            "",
            "## Recall at the review threshold by scenario (test)",
            "",
            "| scenario | fraud rows | recall |",
            "| --- | --- | --- |",
        ]
        lines += [
            f"| {s} | {v['fraud_rows']} | {v['recall']:.3f} |"
            for s, v in m["test_recall_by_scenario"].items()
        ]
    gain = booster.get_score(importance_type="total_gain")
    top = sorted(
        ((k, float(v)) for k, v in gain.items() if isinstance(v, float)), key=lambda kv: -kv[1]
    )[:20]
    lines += [
        "",
        "## Top features (XGBoost total gain)",
        "",
        "| feature | total gain |",
        "| --- | --- |",
    ]
    lines += [f"| {k} | {v:,.0f} |" for k, v in top]
    lines += ["", f"![precision-recall]({PR_CURVE})", "", f"![score histogram]({HISTOGRAM})", ""]
    (directory / "report.md").write_text("\n".join(lines))
