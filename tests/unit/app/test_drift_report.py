"""GET /v1/model/drift's body: the most drifted features first, and why there are no
figures when there are none."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.routes.model import drift_report
from ensemble.drift_reference import DriftReference
from features.definitions import FEATURE_NAMES
from scoring.drift import DriftConfig, DriftWindow
from scoring.models import ModelHolder

WATCHED = ["card_count_1h", "amount", "amount_log"]


def matrix(rows: int, scale: float = 1.0) -> np.ndarray:
    m = np.full((rows, len(FEATURE_NAMES)), np.nan, dtype=np.float32)
    amount = np.linspace(1, 100, rows) * scale
    m[:, FEATURE_NAMES.index("amount")] = amount
    m[:, FEATURE_NAMES.index("amount_log")] = np.log1p(amount)
    m[:, FEATURE_NAMES.index("card_count_1h")] = np.arange(rows) % 3
    return m


def test_the_most_drifted_features_come_first() -> None:
    reference = DriftReference.build(matrix(1_000), np.full(1_000, 0.05), FEATURE_NAMES, WATCHED)
    window = DriftWindow(reference, window_s=600, buckets=10, min_rows=10)
    window.observe(matrix(300, scale=10), np.full(300, 0.05))
    models = ModelHolder(Path("unused"), DriftConfig())
    models.drift = window
    report = drift_report(models)
    assert report["available"] is True
    assert report["rows"] == 300
    assert report["reference_rows"] == 1_000
    assert report["window_s"] == 600
    assert report["score_psi"] == 0.0
    psis = [f["psi"] for f in report["features"]]
    assert psis == sorted(psis, reverse=True)
    assert report["features"][-1]["feature"] == "card_count_1h"
    assert report["features"][-1]["psi"] < 0.01
    assert report["features"][0]["psi"] >= 0.2


def test_without_figures_it_says_why() -> None:
    off = drift_report(ModelHolder(Path("unused")))
    assert off["available"] is False
    assert "FRAUD_DRIFT=false" in off["reason"]
    old = drift_report(ModelHolder(Path("unused"), DriftConfig()))
    assert old["available"] is False
    assert "no drift reference" in old["reason"]
    assert old["features"] == []
