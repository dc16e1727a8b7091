"""`fraud train`: replay a history, fit XGBoost and an Isolation Forest, compile both,
calibrate tiers, and write a model bundle with its evaluation report."""

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

from ensemble import manifest as names
from ensemble.bundle import ModelBundle
from ensemble.labelled import replay_file
from ensemble.manifest import LibraryInfo, Manifest
from ensemble.native import compile_library, file_sha256, platform_tag
from ensemble.progress import NoProgress, Progress
from ensemble.quality import component_ranking, fraud_metrics, recall_by_group
from ensemble.report import write_report
from ensemble.split import split_by_time
from ensemble.tiers import DEFAULT_TIER_FPR, calibrate
from features.definitions import FEATURE_NAMES


@dataclass(slots=True)
class TrainConfig:
    seed: int = 7
    n_estimators: int = 400
    max_depth: int = 6
    learning_rate: float = 0.08
    early_stopping_rounds: int = 40
    isolation_trees: int = 100
    isolation_samples: int = 256
    weight_xgboost: float = 0.7
    weight_isolation_forest: float = 0.3
    tier_fpr: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_TIER_FPR))
    label_delay_days: float = 7.0
    validation_share: float = 0.2
    test_share: float = 0.2
    gap_days: float = 1.0
    warmup_days: float = 7.0
    threads: int = 2


def _fit_xgboost(
    cfg: TrainConfig,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    progress: Progress,
) -> xgb.Booster:
    positives = max(int(y_train.sum()), 1)
    params = {
        "objective": "binary:logistic",
        "eval_metric": "aucpr",
        "tree_method": "hist",
        "max_depth": cfg.max_depth,
        "eta": cfg.learning_rate,
        "subsample": 0.8,
        "colsample_bytree": 0.6,
        "min_child_weight": 2.0,
        # Class imbalance: weigh the rare fraud rows up to balance the classes.
        "scale_pos_weight": (len(y_train) - positives) / positives,
        "nthread": cfg.threads,
        "seed": cfg.seed,
    }
    advance = progress.task("training XGBoost", cfg.n_estimators)

    class Tick(xgb.callback.TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            advance(1)
            return False

    train = xgb.DMatrix(x_train, label=y_train, missing=np.nan, feature_names=list(FEATURE_NAMES))
    val = xgb.DMatrix(x_val, label=y_val, missing=np.nan, feature_names=list(FEATURE_NAMES))
    booster = xgb.train(
        params,
        train,
        num_boost_round=cfg.n_estimators,
        evals=[(val, "validation")],
        early_stopping_rounds=cfg.early_stopping_rounds,
        callbacks=[Tick()],
        verbose_eval=False,
    )
    # Keep exactly the trees up to the best validation round.
    return booster[: booster.best_iteration + 1]


def _fit_isolation_forest(cfg: TrainConfig, x: np.ndarray, fill: np.ndarray) -> IsolationForest:
    forest = IsolationForest(
        n_estimators=cfg.isolation_trees,
        max_samples=cfg.isolation_samples,
        random_state=cfg.seed,
        n_jobs=1,
    )
    return forest.fit(np.where(np.isnan(x), fill, x))


def _versions() -> dict[str, str]:
    return {
        p: md.version(p) for p in ("xgboost-cpu", "treelite", "tl2cgen", "scikit-learn", "numpy")
    }


def _model_version(created: datetime, fingerprint: str) -> str:
    stamp = created.strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{stamp}-{hashlib.sha256((stamp + fingerprint).encode()).hexdigest()[:4]}"


def train(
    data: Path, out: Path, cfg: TrainConfig | None = None, progress: Progress | None = None
) -> Manifest:
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

    booster = _fit_xgboost(
        cfg, x[split.train], y[split.train], x[split.validation], y[split.validation], progress
    )
    fill = np.nan_to_num(np.nanmin(x[split.train], axis=0), nan=0.0) - 1.0
    forest = _fit_isolation_forest(cfg, x[split.train], fill.astype(np.float32))

    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
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
        compile_library(model, staging / lib, cfg.threads)
        libraries[key] = LibraryInfo(
            lib, ckpt, file_sha256(staging / lib), platform_tag(), int(model.num_tree)
        )
        compile_step(1)

    raw_train = forest.score_samples(
        np.where(np.isnan(x[split.train]), fill, x[split.train])[:50_000]
    )
    created = datetime.now(UTC).replace(microsecond=0)
    manifest = Manifest(
        model_version=_model_version(created, replayed.fingerprint),
        created_at=created.isoformat().replace("+00:00", "Z"),
        feature_names=list(FEATURE_NAMES),
        weights={"xgboost": cfg.weight_xgboost, "isolation_forest": cfg.weight_isolation_forest},
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
        params=asdict(cfg) | {"trees_kept": int(booster.num_boosted_rounds())},
        libraries=libraries,
        metrics={},
        versions=_versions(),
    )
    manifest.write(staging)

    # Score validation and test through the compiled libraries, exactly as served.
    bundle = ModelBundle.load(staging)
    val_scores = bundle.score(x[split.validation])
    thresholds = calibrate(val_scores.score[y[split.validation] == 0], cfg.tier_fpr)
    manifest.thresholds = thresholds.as_dict()
    test = bundle.score(x[split.test])
    amount = tx.amount
    scenario = (
        replayed.history.frame["scenario"].fillna("").to_numpy(dtype=object)
        if "scenario" in (replayed.history.frame)
        else None
    )
    manifest.metrics = {
        "validation": fraud_metrics(
            y[split.validation], val_scores.score, amount[split.validation], thresholds
        ),
        "test": fraud_metrics(y[split.test], test.score, amount[split.test], thresholds),
        # Threshold-free ranking quality of each component alone, for comparison.
        "test_components": {
            name: component_ranking(y[split.test], values)
            for name, values in (
                ("xgboost", test.xgboost),
                ("isolation_forest", test.isolation_forest),
            )
        },
    }
    if scenario is not None:
        manifest.metrics["test_recall_by_scenario"] = recall_by_group(
            y[split.test], test.score, scenario[split.test], thresholds.medium
        )
    manifest.write(staging)
    write_report(staging, manifest, y[split.test], test, booster)

    # Replace the old bundle only once the new one is complete.
    if out.exists():
        shutil.rmtree(out)
    staging.rename(out)
    return manifest
