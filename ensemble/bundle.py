"""The model bundle at run time: load it, score feature rows, explain a score.

bundle = ModelBundle.load(path)      # compiled libraries, thresholds, a smoke prediction
bundle.ready                         # compiled and checked: fit to serve within budget
bundle.score(matrix)                 # ensemble scores and tiers for many rows
bundle.score_row(row)                # one row, the API's hot path
bundle.reasons(row)                  # top contributing features, on demand
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import NamedTuple

import numpy as np
import xgboost as xgb

from ensemble.attribution import PathTables
from ensemble.combination import Combination, from_dict
from ensemble.manifest import XGBOOST_SOURCE, BundleError, Manifest
from ensemble.native import CompiledForest, Forest, load_forest
from ensemble.tiers import Thresholds, assign_tiers, tier_of
from features.definitions import FEATURE_NAMES


@dataclass(frozen=True, slots=True)
class Reason:
    feature: str
    value: float | None
    contribution: float


class RowScore(NamedTuple):
    score: float
    xgboost: float
    isolation_forest: float
    risk_tier: str


@dataclass(frozen=True, slots=True)
class BatchScores:
    score: np.ndarray
    xgboost: np.ndarray
    isolation_forest: np.ndarray
    risk_tier: np.ndarray


def servable_manifest(path: Path) -> Manifest:
    """The manifest of a bundle this version can serve (its schema and feature set), else
    BundleError."""
    manifest = Manifest.read(path)
    if tuple(manifest.feature_names) != FEATURE_NAMES:
        raise BundleError(f"{path}: trained on another feature set; retrain with this version")
    return manifest


class ModelBundle:
    def __init__(
        self, path: Path, manifest: Manifest, xgboost_forest: Forest, isolation_forest: Forest
    ) -> None:
        self.path = path
        self.manifest = manifest
        self._xgb = xgboost_forest
        self._iso = isolation_forest
        self.thresholds = Thresholds(**manifest.thresholds)
        self.combination: Combination = from_dict(manifest.combination)
        self._combine_row = self.combination.row
        self._low = float(manifest.anomaly_range["low"])
        self._span = max(float(manifest.anomaly_range["high"]) - self._low, 1e-12)
        self._fill = np.asarray(manifest.isolation_forest_fill, dtype=np.float32)
        self._t = self.thresholds
        self._native = isinstance(xgboost_forest, CompiledForest) and isinstance(
            isolation_forest, CompiledForest
        )
        # The trees' node tables for reasons, read now rather than in a request.
        self._paths = (
            PathTables.from_xgboost_json((path / XGBOOST_SOURCE).read_bytes())
            if isinstance(xgboost_forest, CompiledForest)
            else None
        )
        # True once load() has checked the bundle: both libraries compiled (not the slower
        # GTIL fallback) and a smoke prediction right. Drives the readiness probe.
        self.ready = False

    @property
    def version(self) -> str:
        return self.manifest.model_version

    @classmethod
    def load(cls, path: Path) -> ModelBundle:
        manifest = servable_manifest(path)
        fills = {"isolation_forest": np.asarray(manifest.isolation_forest_fill, dtype=np.float32)}
        forests = {
            name: load_forest(
                path / lib.file,
                path / lib.checkpoint,
                len(FEATURE_NAMES),
                lib.sha256,
                lib.platform,
                fills.get(name),
            )
            for name, lib in manifest.libraries.items()
        }
        bundle = cls(path, manifest, forests["xgboost"], forests["isolation_forest"])
        bundle.smoke_test()
        bundle.ready = bundle._native
        return bundle

    def smoke_test(self) -> None:
        """Score two probe rows (every feature missing; the forest's fill values) as a
        batch and one by one. A library that loads but computes nonsense (a damaged
        file, a wrong build) fails here, at load, instead of in a request."""
        probe = np.stack(
            [np.full(len(FEATURE_NAMES), np.nan, dtype=np.float32), self._fill]
        ).astype(np.float32)
        batch = self.score(probe)
        outputs = np.concatenate([batch.score, batch.xgboost, batch.isolation_forest])
        if not (np.isfinite(outputs).all() and outputs.min() >= 0.0 and outputs.max() <= 1.0):
            raise BundleError(f"{self.path}: smoke prediction out of [0, 1]: {outputs}")
        single = [self.score_row(np.ascontiguousarray(row)).score for row in probe]
        if not np.allclose(single, batch.score, atol=1e-6):
            raise BundleError(
                f"{self.path}: row and batch scoring disagree: {single}, {batch.score}"
            )

    def anomaly(self, raw: np.ndarray) -> np.ndarray:
        return np.clip((raw - self._low) / self._span, 0.0, 1.0)

    def forest_input(self, rows: np.ndarray) -> np.ndarray:
        """The isolation forest sees no missing values: they become the trained fill."""
        return np.where(np.isnan(rows), self._fill, rows)

    def score(self, rows: np.ndarray) -> BatchScores:
        rows = np.ascontiguousarray(rows, dtype=np.float32)
        if len(rows) == 1:  # a batch of one (low traffic): the row path, a quarter of the cost
            r = self.score_row(rows[0])
            return BatchScores(
                score=np.array([r.score]),
                xgboost=np.array([r.xgboost]),
                isolation_forest=np.array([r.isolation_forest]),
                risk_tier=np.array([r.risk_tier], dtype=object),
            )
        p = self._xgb.predict(rows)
        a = self.anomaly(self._iso.predict(rows))
        s = self.combination.batch(p, a)
        return BatchScores(
            score=s, xgboost=p, isolation_forest=a, risk_tier=assign_tiers(s, self.thresholds)
        )

    def score_row(self, row: np.ndarray) -> RowScore:
        """One contiguous float32 row: the API's hot path (two ctypes calls)."""
        p = self._xgb.predict_row(row)
        raw = self._iso.predict_row(row)
        a = min(max((raw - self._low) / self._span, 0.0), 1.0)
        s = self._combine_row(p, a)
        return RowScore(
            score=s, xgboost=p, isolation_forest=a, risk_tier=tier_of(s, self.thresholds)
        )

    @cached_property
    def _booster(self) -> xgb.Booster:
        booster = xgb.Booster(model_file=str(self.path / XGBOOST_SOURCE))
        booster.set_param({"nthread": 1})
        # Columns are in manifest order (checked at load); unnamed matrices build 3x faster.
        booster.feature_names = None
        return booster

    def contributions(self, rows: np.ndarray) -> np.ndarray:
        """Saabas contributions of each feature to the XGBoost margin, (rows, features):
        in the compiled library when there is one, else by xgboost itself."""
        if isinstance(self._xgb, CompiledForest) and self._paths is not None:
            return self._xgb.path_contributions(rows, self._paths)
        data = xgb.DMatrix(rows, missing=np.nan, nthread=1)
        contribs = self._booster.predict(
            data, pred_contribs=True, approx_contribs=True, validate_features=False
        )
        return np.asarray(contribs[:, :-1])

    def reasons(self, row: np.ndarray, top: int = 3) -> list[Reason]:
        """The features that pushed the XGBoost score up most (margin space)."""
        return self.reasons_many(row[None, :], top)[0]

    def reasons_many(self, rows: np.ndarray, top: int = 3) -> list[list[Reason]]:
        """Reasons for several rows in one pass. Contributions are Saabas attributions
        (xgboost's approx_contribs, ensemble/attribution.py): the path-wise change of each
        tree's expected value, a fraction of exact TreeSHAP's cost."""
        if len(rows) == 0:
            return []
        # A feature whose value is missing (no history, a field absent) is never a reason:
        # "card_distance_from_centroid_km: null" tells an analyst nothing they can check,
        # while the present features that rank next (card_count_7d: 0 for a new card) do.
        contribs = np.where(np.isnan(rows), -np.inf, self.contributions(rows))
        # One ranking for the batch; Python floats come out of .tolist() in one call each.
        order = np.argsort(-contribs, axis=1, kind="stable")[:, :top]
        gains = np.take_along_axis(contribs, order, axis=1).tolist()
        values = np.take_along_axis(rows, order, axis=1).astype(np.float64).tolist()
        return [
            [
                Reason(feature=FEATURE_NAMES[j], value=v, contribution=round(c, 6))
                for j, v, c in zip(js, vs, cs, strict=True)
                if c > 0
            ]
            for js, vs, cs in zip(order.tolist(), values, gains, strict=True)
        ]
