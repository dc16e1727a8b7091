"""`fraud evaluate`: replay a labelled file through the same features and score it with a bundle."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ensemble.bundle import ModelBundle
from ensemble.labelled import replay_file
from ensemble.progress import NoProgress, Progress
from ensemble.quality import fraud_metrics, recall_by_group


def evaluate(
    data: Path,
    model: Path,
    label_delay_days: float,
    scores_out: Path | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    progress = progress or NoProgress()
    bundle = ModelBundle.load(model)
    replayed = replay_file(data, label_delay_days, progress)
    scores = bundle.score(replayed.matrix)
    frame = replayed.history.frame
    metrics = fraud_metrics(
        replayed.labels, scores.score, replayed.history.tx.amount, bundle.thresholds
    )
    metrics["model_version"] = bundle.version
    metrics["duplicates_dropped"] = replayed.history.duplicates_dropped
    if "scenario" in frame:
        metrics["recall_by_scenario"] = recall_by_group(
            replayed.labels,
            scores.score,
            frame["scenario"].fillna("").to_numpy(dtype=object),
            bundle.thresholds.medium,
        )
    if scores_out is not None:
        scores_out.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(
            {
                "transaction_id": frame["transaction_id"],
                "score": scores.score,
                "risk_tier": scores.risk_tier,
            }
        ).to_csv(scores_out, index=False, float_format="%.9f")
    return metrics
