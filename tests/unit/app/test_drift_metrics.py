"""The drift gauges at scrape time: present with a reference and enough rows, left out
(never a fake 0) otherwise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from app.drift_metrics import DriftGauges
from ensemble.drift_reference import DriftReference
from features.definitions import FEATURE_NAMES
from scoring.drift import DriftWindow
from scoring.models import ModelHolder

WATCHED = ["amount", "card_count_1h"]


def matrix(rows: int, scale: float = 1.0) -> np.ndarray:
    m = np.full((rows, len(FEATURE_NAMES)), np.nan, dtype=np.float32)
    m[:, FEATURE_NAMES.index("amount")] = np.linspace(1, 100, rows) * scale
    return m


def scraped(models: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    gauges = DriftGauges()
    gauges.attach(models)
    registry = CollectorRegistry()
    registry.register(gauges)
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def holder(window: DriftWindow | None) -> ModelHolder:
    models = ModelHolder(Path("unused"))
    models.drift = window
    return models


def window(min_rows: int) -> DriftWindow:
    reference = DriftReference.build(matrix(1_000), np.full(1_000, 0.05), FEATURE_NAMES, WATCHED)
    return DriftWindow(reference, window_s=3_600, buckets=12, min_rows=min_rows)


def test_a_shifted_window_exports_its_psi_and_missing_shares() -> None:
    live = window(min_rows=100)
    live.observe(matrix(200, scale=10), np.full(200, 0.95))
    samples = scraped(holder(live))
    assert samples["fraud_feature_drift_psi", (("feature", "amount"),)] >= 0.2
    # card_count_1h is missing everywhere, in the reference as live: no drift.
    assert samples["fraud_feature_drift_psi", (("feature", "card_count_1h"),)] == 0.0
    assert samples["fraud_score_drift_psi", ()] >= 0.2
    assert samples["fraud_feature_missing_share", (("feature", "card_count_1h"),)] == 1.0
    assert samples["fraud_feature_reference_missing_share", (("feature", "amount"),)] == 0.0
    assert samples["fraud_drift_window_rows", ()] == 200


def test_too_few_rows_leave_the_psi_out_but_say_how_many() -> None:
    live = window(min_rows=500)
    live.observe(matrix(200, scale=10), np.full(200, 0.95))
    names = {name for name, _ in scraped(holder(live))}
    assert "fraud_feature_drift_psi" not in names
    assert "fraud_score_drift_psi" not in names
    assert {"fraud_drift_window_rows", "fraud_feature_missing_share"} <= names


def test_no_reference_or_drift_off_exports_nothing() -> None:
    assert scraped(holder(None)) == {}
    assert scraped(None) == {}
