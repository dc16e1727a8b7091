"""The drift gauges, computed from the model's live drift window when /metrics is scraped
(scoring/drift.py), never on the request path:

fraud_feature_drift_psi{feature}            PSI of each watched feature, live vs reference
fraud_score_drift_psi                       PSI of the score
fraud_feature_missing_share{feature}        share of live rows missing the feature
fraud_feature_reference_missing_share{feature}  the same share in the reference
fraud_drift_window_rows                     rows in the live window

A bundle without a reference, or FRAUD_DRIFT=false, exports none of them; the PSI gauges
are left out while the window holds fewer than FRAUD_DRIFT_MIN_ROWS rows.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from scoring.models import ModelHolder

FEATURE_PSI = (
    "fraud_feature_drift_psi",
    "Population stability index of a watched feature: the live window vs the bundle's "
    "training reference (0.1: moderate shift, 0.2: significant)",
)
SCORE_PSI = (
    "fraud_score_drift_psi",
    "Population stability index of the score: the live window vs the bundle's reference",
)
MISSING = (
    "fraud_feature_missing_share",
    "Share of the live window's rows in which a watched feature is missing",
)
REFERENCE_MISSING = (
    "fraud_feature_reference_missing_share",
    "Share of the bundle's reference rows in which a watched feature is missing",
)
ROWS = ("fraud_drift_window_rows", "Rows scored with their windows in the live drift window")


class DriftGauges(Collector):
    def __init__(self) -> None:
        self._models: ModelHolder | None = None

    def attach(self, models: ModelHolder) -> None:
        """Measure this process's model from now on (the API's lifespan)."""
        self._models = models

    def detach(self, models: ModelHolder) -> None:
        if self._models is models:
            self._models = None

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(*FEATURE_PSI, labels=["feature"])
        yield GaugeMetricFamily(*SCORE_PSI)
        yield GaugeMetricFamily(*MISSING, labels=["feature"])
        yield GaugeMetricFamily(*REFERENCE_MISSING, labels=["feature"])
        yield GaugeMetricFamily(*ROWS)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        window = None if self._models is None else self._models.drift
        if window is None:
            return
        figures = window.figures()
        psi = GaugeMetricFamily(*FEATURE_PSI, labels=["feature"])
        missing = GaugeMetricFamily(*MISSING, labels=["feature"])
        reference = GaugeMetricFamily(*REFERENCE_MISSING, labels=["feature"])
        for i, feature in enumerate(figures.features):
            _add(psi, feature, float(figures.psi[i]))
            _add(missing, feature, float(figures.missing_share[i]))
            _add(reference, feature, float(figures.reference_missing_share[i]))
        yield psi
        if not math.isnan(figures.score_psi):
            yield GaugeMetricFamily(*SCORE_PSI, value=figures.score_psi)
        yield missing
        yield reference
        yield GaugeMetricFamily(*ROWS, value=figures.rows)


def _add(family: GaugeMetricFamily, feature: str, value: float) -> None:
    if not math.isnan(value):  # no figure yet: left out, never a fake 0
        family.add_metric([feature], value)


DRIFT = DriftGauges()
