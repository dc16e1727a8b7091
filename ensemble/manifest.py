"""The model bundle's manifest.json: what a bundle is, written down once."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import orjson

# 2: `combination` (chosen on validation) replaced the fixed `weights`; the textbook
# baseline, the ensemble choice and the hyper-parameter search are recorded.
SCHEMA_VERSION = 2
MANIFEST = "manifest.json"
XGBOOST_SOURCE = "xgboost.json"
ISOLATION_FOREST_SOURCE = "isolation_forest.joblib"
XGBOOST_CHECKPOINT = "xgboost.tl"
ISOLATION_FOREST_CHECKPOINT = "isolation_forest.tl"
XGBOOST_LIBRARY = "xgboost.so"
ISOLATION_FOREST_LIBRARY = "isolation_forest.so"
BASELINE_MODEL = "baseline.json"  # the textbook baseline, for reports only: never served
SMALL_MODEL = "small_model.json"  # the 19-feature model, for reports only: never served


class BundleError(ValueError):
    """A model bundle that cannot be used (missing files, other schema, other features)."""


@dataclass(slots=True)
class LibraryInfo:
    file: str
    checkpoint: str
    sha256: str
    platform: str
    num_tree: int


@dataclass(slots=True)
class Manifest:
    model_version: str
    created_at: str
    feature_names: list[str]
    combination: dict[str, Any]  # how the components make the score (ensemble/combination.py)
    thresholds: dict[str, float]
    tier_fpr: dict[str, float]
    anomaly_range: dict[str, float]  # raw isolation-forest output mapped linearly to [0, 1]
    isolation_forest_fill: list[float]  # per feature, replaces missing values for the forest
    training_data: dict[str, Any]
    split: dict[str, Any]
    params: dict[str, Any]
    libraries: dict[str, LibraryInfo]
    metrics: dict[str, Any]
    versions: dict[str, str]
    selection: dict[str, Any] = field(default_factory=dict)  # every ensemble candidate, the choice
    search: dict[str, Any] = field(default_factory=dict)  # hyper-parameter trials
    baseline: dict[str, Any] = field(default_factory=dict)  # the textbook baseline's model
    # The drift reference (ensemble/drift_reference.py); empty in bundles written before it,
    # which still serve, without drift figures.
    drift: dict[str, Any] = field(default_factory=dict)
    # What shipped when it is not the held-back model the metrics measure: XGBoost refit on
    # every labelled row (ensemble/refit.py); empty: the held-back model shipped.
    refit: dict[str, Any] = field(default_factory=dict)
    # XGBoost refitted without each feature group (`fraud train --ablate`); empty otherwise.
    ablation: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    def write(self, directory: Path) -> None:
        (directory / MANIFEST).write_bytes(orjson.dumps(asdict(self), option=orjson.OPT_INDENT_2))

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        path = directory / MANIFEST
        if not path.exists():
            raise BundleError(f"{directory}: no {MANIFEST}; train a model with `fraud train`")
        raw = orjson.loads(path.read_bytes())
        if raw.get("schema_version") != SCHEMA_VERSION:
            raise BundleError(
                f"{path}: bundle schema version {raw.get('schema_version')}, this version reads "
                f"{SCHEMA_VERSION}; retrain the bundle with `fraud train`"
            )
        known = {f.name for f in fields(cls)}
        # A field added by a later release of the same schema (additive, as the drift
        # reference was): kept aside in `extra`, not a TypeError. A change an earlier release
        # could not serve raises SCHEMA_VERSION instead, refused above.
        added = {k: raw.pop(k) for k in list(raw) if k not in known}
        raw["libraries"] = {k: LibraryInfo(**v) for k, v in raw["libraries"].items()}
        manifest = cls(**raw)
        manifest.extra = {**manifest.extra, **added}
        return manifest
