"""`fraud evaluate`: replay a labelled file through the same features, score it with a bundle,
and score the same rows with the bundle's reference models beside it (the textbook
baseline, the 19-feature model). With `since`, only the rows from then on are measured, the
whole file replayed before them (ensemble/as_of.py)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import xgboost as xgb

from ensemble import baseline
from ensemble.as_of import epoch_ms, rows_since, shown_ms
from ensemble.bundle import ModelBundle
from ensemble.chunks import replay_total, scores
from ensemble.comparison import side_by_side
from ensemble.labelled import LabelledHistory, load_labelled
from ensemble.manifest import BundleError
from ensemble.progress import NoProgress, Progress
from ensemble.quality import fraud_metrics, recall_by_group
from ensemble.tiers import Thresholds


def reference_metrics(
    bundle: ModelBundle,
    replayed: LabelledHistory,
    info: dict[str, Any],
    names: tuple[str, ...],
    rows: slice,
) -> dict[str, Any]:
    """A reference model of the bundle (the baseline, the small model) on the evaluated rows:
    its features recomputed from the whole file, its own review threshold (the same
    validation false-positive rate as the engine's)."""
    if tuple(info.get("features", ())) != names:
        raise BundleError(f"{bundle.path}: its reference models have other features; retrain it")
    booster = xgb.Booster(model_file=str(bundle.path / info["model"]))
    matrix = baseline.feature_matrix(replayed.history, float(info["label_delay_days"]), names)
    tx = replayed.history.tx
    return fraud_metrics(
        replayed.labels[rows],
        baseline.score(booster, matrix[rows], names),
        tx.amount[rows],
        Thresholds(**info["thresholds"]),
        tx.code("card")[rows],
        tx.ts[rows],
    )


def evaluate(
    data: Path,
    model: Path,
    label_delay_days: float,
    scores_out: Path | None = None,
    progress: Progress | None = None,
    since: datetime | None = None,
) -> dict[str, Any]:
    """since: measure (and write to scores_out) only the rows at or after it; the rows
    before it still build the windows and label features, as they would have online."""
    progress = progress or NoProgress()
    bundle = ModelBundle.load(model)
    replayed = load_labelled(data, label_delay_days)
    tx = replayed.history.tx
    rows = slice(0, len(tx)) if since is None else rows_since(tx.ts, epoch_ms(since))
    frame = replayed.history.frame.iloc[rows]
    y = replayed.labels[rows]
    # Replayed and scored a chunk at a time: the scores are kept, not the rows. The
    # replay of any rows reads the whole history before them.
    scored = scores(
        bundle,
        replayed.store,
        rows,
        advance=progress.task("replaying features", replay_total(rows)),
    )
    metrics = fraud_metrics(
        y, scored.score, tx.amount[rows], bundle.thresholds, tx.code("card")[rows], tx.ts[rows]
    )
    if since is not None:
        metrics["since"] = shown_ms(epoch_ms(since))
        metrics["rows_replayed"] = len(tx)
    metrics["model_version"] = bundle.version
    metrics["combination"] = bundle.combination.describe()
    metrics["duplicates_dropped"] = replayed.history.duplicates_dropped
    if "scenario" in frame:
        metrics["recall_by_scenario"] = recall_by_group(
            y,
            scored.score,
            frame["scenario"].fillna("").to_numpy(dtype=object),
            bundle.thresholds.medium,
        )
    info = bundle.manifest.baseline
    metrics["baseline"] = reference_metrics(bundle, replayed, info, baseline.FEATURES, rows)
    metrics["comparison"] = side_by_side(metrics, metrics["baseline"])
    if "small_model" in info:  # bundles trained before it have none
        small = reference_metrics(
            bundle, replayed, info["small_model"], baseline.SMALL_FEATURES, rows
        )
        metrics["small_model"] = small
        metrics["comparison_small_model"] = side_by_side(metrics, small, ("engine", "small_model"))
    if scores_out is not None:
        scores_out.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(
            {
                "transaction_id": frame["transaction_id"].to_numpy(),
                "score": scored.score,
                "risk_tier": scored.risk_tier,
            }
        ).to_csv(scores_out, index=False, float_format="%.9f")
    return metrics
