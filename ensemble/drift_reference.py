"""The bundle's drift reference: which features are watched, their fixed bins and the
reference's share of rows in each (and the score's), computed by `fraud train` and kept in
the manifest's `drift` entry, so the reference always travels with the model it describes.

The reference rows are the validation split's: held out from fitting (a model's scores of
its own training rows are over-confident, so a training-row score reference would show
drift on the first day), the latest period before the test gap, and the rows the tiers
were calibrated on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import xgboost as xgb

from ensemble.psi import BinLayout, quantile_edges, score_edges

# Features watched by default: the model's most important by total gain.
DEFAULT_FEATURES = 20


def important_features(booster: xgb.Booster, names: tuple[str, ...], top: int) -> list[str]:
    """The `top` features by XGBoost's total gain (a feature never split on has none), in
    decreasing order; ties by name, so a bundle's choice is reproducible."""
    gain = {
        name: value
        for name, value in booster.get_score(importance_type="total_gain").items()
        if isinstance(value, float) and name in names  # a list only for multi-output models
    }
    return sorted(gain, key=lambda name: (-gain[name], name))[:top]


@dataclass(frozen=True, slots=True)
class DriftReference:
    features: tuple[str, ...]
    edges: tuple[np.ndarray, ...]  # per feature, its interior edges
    counts: np.ndarray  # (features, width): reference rows per bin, bin 0 missing
    score_edges: np.ndarray
    score_counts: np.ndarray  # (score bins,)
    rows: int

    @property
    def layout(self) -> BinLayout:
        return BinLayout(list(self.edges))

    @property
    def score_layout(self) -> BinLayout:
        return BinLayout([self.score_edges])

    @classmethod
    def build(
        cls, matrix: np.ndarray, scores: np.ndarray, names: tuple[str, ...], features: list[str]
    ) -> DriftReference:
        """The reference of `features` (columns of `matrix`, named by `names`) and of the
        scores, from the same rows."""
        columns = matrix[:, [names.index(f) for f in features]]
        edges = tuple(quantile_edges(columns[:, i]) for i in range(len(features)))
        cut = score_edges()
        return cls(
            features=tuple(features),
            edges=edges,
            counts=BinLayout(list(edges)).counts(columns),
            score_edges=cut,
            score_counts=BinLayout([cut]).counts(scores[:, None])[0, 1:],
            rows=len(matrix),
        )

    def as_dict(self) -> dict[str, Any]:
        """The manifest's `drift` entry (JSON: lists of numbers)."""
        return {
            "rows": self.rows,
            "source": "validation",
            "features": [
                {"name": f, "edges": e.tolist(), "counts": c[: len(e) + 2].tolist()}
                for f, e, c in zip(self.features, self.edges, self.counts, strict=True)
            ],
            "score": {"edges": self.score_edges.tolist(), "counts": self.score_counts.tolist()},
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> DriftReference:
        features = raw["features"]
        edges = tuple(np.asarray(f["edges"], dtype=np.float64) for f in features)
        layout = BinLayout(list(edges))
        counts = np.zeros((len(features), layout.width), dtype=np.int64)
        for i, f in enumerate(features):
            counts[i, : len(f["counts"])] = f["counts"]
        return cls(
            features=tuple(f["name"] for f in features),
            edges=edges,
            counts=counts,
            score_edges=np.asarray(raw["score"]["edges"], dtype=np.float64),
            score_counts=np.asarray(raw["score"]["counts"], dtype=np.int64),
            rows=int(raw["rows"]),
        )
