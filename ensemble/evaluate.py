"""`fraud evaluate`: replay a labelled file through the same features, score it with a bundle,
and score the same rows with the bundle's reference models beside it (the textbook
baseline, the 19-feature model)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import xgboost as xgb

from ensemble import baseline
from ensemble.bundle import ModelBundle
from ensemble.chunks import replay_total, scores
from ensemble.comparison import side_by_side
from ensemble.labelled import LabelledHistory, load_labelled
from ensemble.manifest import BundleError
from ensemble.progress import NoProgress, Progress
from ensemble.quality import fraud_metrics, recall_by_group
from ensemble.tiers import Thresholds


def reference_metrics(
    bundle: ModelBundle, replayed: LabelledHistory, info: dict[str, Any], names: tuple[str, ...]
) -> dict[str, Any]:
    """A reference model of the bundle (the baseline, the small model) on the evaluated rows:
    its features recomputed from the file, its own review threshold (the same validation
    false-positive rate as the engine's)."""
    if tuple(info.get("features", ())) != names:
        raise BundleError(f"{bundle.path}: its reference models have other features; retrain it")
    booster = xgb.Booster(model_file=str(bundle.path / info["model"]))
    matrix = baseline.feature_matrix(replayed.history, float(info["label_delay_days"]), names)
    tx = replayed.history.tx
    return fraud_metrics(
        replayed.labels,
        baseline.score(booster, matrix, names),
        tx.amount,
        Thresholds(**info["thresholds"]),
        tx.code("card"),
        tx.ts,
    )


def evaluate(
    data: Path,
    model: Path,
    label_delay_days: float,
    scores_out: Path | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    progress = progress or NoProgress()
    bundle = ModelBundle.load(model)
    replayed = load_labelled(data, label_delay_days)
    frame = replayed.history.frame
    tx = replayed.history.tx
    # Replayed and scored a chunk at a time: the scores are kept, not the rows.
    rows = slice(0, len(tx))
    scored = scores(
        bundle,
        replayed.store,
        rows,
        advance=progress.task("replaying features", replay_total(rows)),
    )
    metrics = fraud_metrics(
        replayed.labels, scored.score, tx.amount, bundle.thresholds, tx.code("card"), tx.ts
    )
    metrics["model_version"] = bundle.version
    metrics["combination"] = bundle.combination.describe()
    metrics["duplicates_dropped"] = replayed.history.duplicates_dropped
    if "scenario" in frame:
        metrics["recall_by_scenario"] = recall_by_group(
            replayed.labels,
            scored.score,
            frame["scenario"].fillna("").to_numpy(dtype=object),
            bundle.thresholds.medium,
        )
    info = bundle.manifest.baseline
    metrics["baseline"] = reference_metrics(bundle, replayed, info, baseline.FEATURES)
    metrics["comparison"] = side_by_side(metrics, metrics["baseline"])
    if "small_model" in info:  # bundles trained before it have none
        small = reference_metrics(bundle, replayed, info["small_model"], baseline.SMALL_FEATURES)
        metrics["small_model"] = small
        metrics["comparison_small_model"] = side_by_side(metrics, small, ("engine", "small_model"))
    if scores_out is not None:
        scores_out.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(
            {
                "transaction_id": frame["transaction_id"],
                "score": scored.score,
                "risk_tier": scored.risk_tier,
            }
        ).to_csv(scores_out, index=False, float_format="%.9f")
    return metrics
