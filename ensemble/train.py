"""`fraud train`: replay a history, fit XGBoost and an Isolation Forest, compile both,
choose how they combine, calibrate tiers, fit the textbook baseline beside them, and
write a model bundle with its evaluation report."""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import shutil
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import treelite
import xgboost as xgb
from sklearn.ensemble import IsolationForest

from ensemble import baseline
from ensemble import manifest as names
from ensemble.bundle import ModelBundle
from ensemble.combination import DEFAULT
from ensemble.comparison import score_previous, side_by_side
from ensemble.importance import feature_importance
from ensemble.labelled import replay_file
from ensemble.manifest import LibraryInfo, Manifest
from ensemble.native import compile_library, file_sha256, platform_tag
from ensemble.progress import NoProgress, Progress
from ensemble.quality import component_ranking, fraud_metrics, recall_by_group
from ensemble.report import write_report
from ensemble.search import Fixed, HyperParams, search
from ensemble.selection import choose
from ensemble.split import split_by_time
from ensemble.tiers import DEFAULT_TIER_FPR, calibrate
from features.definitions import FEATURE_NAMES


@dataclass(slots=True)
class TrainConfig:
    seed: int = 7
    n_estimators: int = 400
    max_depth: int = 6
    min_child_weight: float = 2.0
    learning_rate: float = 0.08
    early_stopping_rounds: int = 40
    # Seconds for the hyper-parameter search (ensemble/search.py); 0: the parameters above.
    budget_s: float = 0.0
    isolation_trees: int = 100
    isolation_samples: int = 256
    tier_fpr: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_TIER_FPR))
    label_delay_days: float = 7.0
    validation_share: float = 0.2
    test_share: float = 0.2
    gap_days: float = 1.0
    warmup_days: float = 7.0
    threads: int = 2
    shap_rows: int = 2_000  # test rows sampled for the report's mean |SHAP|


def _fit_isolation_forest(cfg: TrainConfig, x: np.ndarray, fill: np.ndarray) -> IsolationForest:
    forest = IsolationForest(
        n_estimators=cfg.isolation_trees,
        max_samples=cfg.isolation_samples,
        random_state=cfg.seed,
        n_jobs=1,
    )
    return forest.fit(np.where(np.isnan(x), fill, x))


def _rows(rows: np.ndarray) -> slice | np.ndarray:
    """Row indices as a slice where they are one run (a view of the matrix, not a copy)."""
    if len(rows) and rows[-1] - rows[0] == len(rows) - 1:
        return slice(int(rows[0]), int(rows[-1]) + 1)
    return rows


def _versions() -> dict[str, str]:
    return {
        p: md.version(p) for p in ("xgboost-cpu", "treelite", "tl2cgen", "scikit-learn", "numpy")
    }


def _model_version(created: datetime, fingerprint: str) -> str:
    stamp = created.strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{stamp}-{hashlib.sha256((stamp + fingerprint).encode()).hexdigest()[:4]}"


def _compile(
    staging: Path, booster: xgb.Booster, forest: IsolationForest, threads: int, progress: Progress
) -> dict[str, LibraryInfo]:
    booster.save_model(str(staging / names.XGBOOST_SOURCE))
    joblib.dump(forest, staging / names.ISOLATION_FOREST_SOURCE)
    compile_step = progress.task("compiling with tl2cgen", 2)
    libraries: dict[str, LibraryInfo] = {}
    for key, model, lib, ckpt in (
        (
            "xgboost",
            treelite.frontend.from_xgboost(booster),
            names.XGBOOST_LIBRARY,
            names.XGBOOST_CHECKPOINT,
        ),
        (
            "isolation_forest",
            treelite.sklearn.import_model(forest),
            names.ISOLATION_FOREST_LIBRARY,
            names.ISOLATION_FOREST_CHECKPOINT,
        ),
    ):
        model.serialize(str(staging / ckpt))
        compile_library(model, staging / lib, threads)
        libraries[key] = LibraryInfo(
            lib, ckpt, file_sha256(staging / lib), platform_tag(), int(model.num_tree)
        )
        compile_step(1)
    return libraries


def train(
    data: Path,
    out: Path,
    cfg: TrainConfig | None = None,
    progress: Progress | None = None,
    compare_with: Path | None = None,
) -> Manifest:
    """compare_with: the bundle in service, scored on the same test rows in the report."""
    cfg = cfg or TrainConfig()
    progress = progress or NoProgress()
    replayed = replay_file(data, cfg.label_delay_days, progress)
    tx, x, y = replayed.history.tx, replayed.matrix, replayed.labels
    split = split_by_time(
        tx.ts, cfg.validation_share, cfg.test_share, cfg.gap_days, cfg.warmup_days
    )
    for part, rows in (("train", split.train), ("validation", split.validation)):
        if y[rows].sum() == 0 or y[rows].sum() == len(rows):
            raise ValueError(
                f"the {part} split needs both fraud and legitimate rows; use a longer history"
            )
    # The parts are runs of rows (the history is in event-time order): slices of the matrix
    # are views, where index arrays would copy a part of it each time.
    train_rows, val, test = (_rows(r) for r in (split.train, split.validation, split.test))
    x_train = x[train_rows]

    found = search(
        HyperParams(cfg.max_depth, cfg.min_child_weight, cfg.learning_rate),
        Fixed(cfg.n_estimators, cfg.early_stopping_rounds, cfg.seed, cfg.threads),
        x_train,
        y[train_rows],
        x[val],
        y[val],
        cfg.budget_s,
        progress,
    )
    booster = found.booster
    fill = np.nan_to_num(np.nanmin(x_train, axis=0), nan=0.0) - 1.0
    forest = _fit_isolation_forest(cfg, x_train, fill.astype(np.float32))

    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    libraries = _compile(staging, booster, forest, cfg.threads, progress)
    head = x_train[:50_000]
    raw_train = forest.score_samples(np.where(np.isnan(head), fill, head))
    created = datetime.now(UTC).replace(microsecond=0)
    manifest = Manifest(
        model_version=_model_version(created, replayed.fingerprint),
        created_at=created.isoformat().replace("+00:00", "Z"),
        feature_names=list(FEATURE_NAMES),
        combination=DEFAULT.as_dict(),  # until the choice below
        thresholds={"medium": 1.0, "high": 1.0, "critical": 1.0},
        tier_fpr=cfg.tier_fpr,
        # Raw forest output is 2^(-depth/c) = -score_samples: the training median maps
        # to 0 (ordinary) and the training maximum to 1 (most isolated).
        anomaly_range={"low": float(np.median(-raw_train)), "high": float(np.max(-raw_train))},
        isolation_forest_fill=[float(v) for v in fill],
        training_data={
            "path": str(data),
            "sha256": replayed.fingerprint,
            "rows": len(tx),
            "duplicates_dropped": replayed.history.duplicates_dropped,
            "fraud_rows": int(y.sum()),
        },
        split={
            "train_rows": len(split.train),
            "validation_rows": len(split.validation),
            "test_rows": len(split.test),
            "boundaries": [
                datetime.fromtimestamp(b / 1000, UTC).isoformat() for b in split.boundaries_ms
            ],
            "gap_days": cfg.gap_days,
            "warmup_days": cfg.warmup_days,
        },
        params=asdict(cfg)
        | asdict(found.chosen.params)
        | {"trees_kept": int(booster.num_boosted_rounds())},
        libraries=libraries,
        metrics={},
        versions=_versions(),
        search=found.as_dict(cfg.budget_s),
    )
    manifest.write(staging)

    # The components on validation through the compiled libraries, exactly as served,
    # choose the combination; tiers are calibrated on the combined score.
    components = ModelBundle.load(staging).score(x[val])
    selection = choose(components.xgboost, components.isolation_forest, y[val], cfg.seed)
    combination = selection.chosen.combination
    thresholds = calibrate(
        combination.batch(components.xgboost, components.isolation_forest)[y[val] == 0],
        cfg.tier_fpr,
    )
    manifest.combination = combination.as_dict()
    manifest.selection = selection.as_dict()
    manifest.thresholds = thresholds.as_dict()
    manifest.write(staging)
    bundle = ModelBundle.load(staging)
    val_scores, test_scores = bundle.score(x[val]), bundle.score(x[test])

    # The textbook baseline on the same rows, its review threshold at the same
    # false-positive rate on validation as the engine's.
    advance = progress.task("textbook baseline", 1)
    x_base = baseline.feature_matrix(replayed.history, cfg.label_delay_days)
    base = baseline.fit(x_base, y, tx.ts, split.train, cfg.seed, cfg.threads)
    base.booster.save_model(str(staging / names.BASELINE_MODEL))
    base_val, base_test = base.score(x_base[val]), base.score(x_base[test])
    base_thresholds = calibrate(base_val[y[val] == 0], cfg.tier_fpr)
    advance(1)
    manifest.baseline = {
        "model": names.BASELINE_MODEL,
        "features": list(baseline.FEATURES),
        "params": baseline.PARAMS | {"rounds": baseline.ROUNDS},
        "label_delay_days": cfg.label_delay_days,
        "trained_on": base.note,
        "train_rows": len(base.train_rows),
        "train_fraud_rows": int(y[base.train_rows].sum()),
        "thresholds": base_thresholds.as_dict(),
    }

    card = tx.code("card")

    def metrics(rows: slice | np.ndarray, score: np.ndarray, t: Any) -> dict[str, Any]:
        return fraud_metrics(y[rows], score, tx.amount[rows], t, card[rows], tx.ts[rows])

    engine_test = metrics(test, test_scores.score, thresholds)
    baseline_test = metrics(test, base_test, base_thresholds)
    manifest.metrics = {
        "validation": metrics(val, val_scores.score, thresholds),
        "test": engine_test,
        # Threshold-free ranking quality of each component alone, for comparison.
        "test_components": {
            name: component_ranking(y[test], values)
            for name, values in (
                ("xgboost", test_scores.xgboost),
                ("isolation_forest", test_scores.isolation_forest),
            )
        },
        "baseline": {
            "validation": metrics(val, base_val, base_thresholds),
            "test": baseline_test,
        },
        "test_engine_vs_baseline": side_by_side(engine_test, baseline_test),
    }
    frame = replayed.history.frame
    if "scenario" in frame:
        scenario = frame["scenario"].fillna("").to_numpy(dtype=object)
        manifest.metrics["test_recall_by_scenario"] = recall_by_group(
            y[test], test_scores.score, scenario[test], thresholds.medium
        )
    if compare_with is not None:
        manifest.metrics["previous_bundle"] = score_previous(
            compare_with, x[test], y[test], tx.amount[test], card[test], tx.ts[test]
        )
    manifest.metrics["feature_importance"] = feature_importance(
        booster, x[test], cfg.shap_rows, cfg.seed
    )
    manifest.write(staging)
    write_report(staging, manifest, y[test], test_scores, base_test)

    # Replace the old bundle only once the new one is complete.
    if out.exists():
        shutil.rmtree(out)
    staging.rename(out)
    return manifest
