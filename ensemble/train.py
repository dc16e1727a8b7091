"""`fraud train`: replay a history, fit XGBoost and an Isolation Forest, compile both,
choose how they combine, calibrate tiers, fit the textbook baseline beside them, and
write a model bundle with its evaluation report."""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import shutil
import warnings
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
from ensemble.ablation import ablate, groups, single
from ensemble.as_of import epoch_ms, shown_ms
from ensemble.bundle import ModelBundle
from ensemble.chunks import CHUNK_ROWS, XGBOOST_PASSES, quantized, replay_total
from ensemble.combination import DEFAULT
from ensemble.comparison import score_previous, side_by_side
from ensemble.drift_reference import DEFAULT_FEATURES, DriftReference, important_features
from ensemble.importance import feature_importance
from ensemble.labelled import LabelledHistory, load_labelled
from ensemble.manifest import LibraryInfo, Manifest
from ensemble.native import compile_library, file_sha256, platform_tag
from ensemble.progress import NoProgress, Progress
from ensemble.quality import component_ranking, fraud_metrics, recall_by_group
from ensemble.refit import RefitRows, refit_rows
from ensemble.report import write_report
from ensemble.search import (
    COLSAMPLE_BYTREE,
    Choice,
    Fixed,
    HyperParams,
    RowWeights,
    SearchResult,
    fit_xgboost,
    search,
)
from ensemble.selection import choose
from ensemble.split import split_by_time
from ensemble.swap import ExchangeUnsupported, exchange
from ensemble.tiers import DEFAULT_TIER_FPR, Thresholds, calibrate
from features.definitions import FEATURE_NAMES

DEFAULT_BUDGET_S = 120.0


@dataclass(slots=True)
class TrainConfig:
    seed: int = 7
    n_estimators: int = 400
    max_depth: int = 6
    min_child_weight: float = 2.0
    learning_rate: float = 0.08
    colsample_bytree: float = COLSAMPLE_BYTREE
    # Which training rows teach (ensemble/search.py RowWeights): the last `window_days`
    # only, weighted by a recency half-life; None: all rows, equally.
    window_days: float | None = None
    half_life_days: float | None = None
    early_stopping_rounds: int = 40
    # Seconds for the search on validation over the rows' weights and the regularisation
    # (ensemble/search.py); 0: the choice above, alone. The default fits the build machine:
    # 4-9 trials on the quality presets.
    budget_s: float = DEFAULT_BUDGET_S
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
    # Rows of the matrix computed at a time while XGBoost reads the training rows; the
    # model does not depend on it (ensemble/chunks.py).
    chunk_rows: int = CHUNK_ROWS
    # Features whose drift the API watches: the model's most important by total gain.
    drift_features: int = DEFAULT_FEATURES
    # Ship XGBoost refit on every row whose label is known (ensemble/refit.py), every
    # choice kept from the held-back model that the report measures.
    refit: bool = False
    # After the search, XGBoost refitted without each feature group (ensemble/ablation.py),
    # and without each of `ablate_features` alone.
    ablate: bool = False
    ablate_features: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        single(self.ablate_features)  # a misspelt name refused now, not after the search


ANOMALY_RANGE_ROWS = 50_000  # the first training rows, whose scores set the anomaly range


def configured_choice(cfg: TrainConfig) -> Choice:
    return Choice(
        HyperParams(cfg.max_depth, cfg.min_child_weight, cfg.learning_rate, cfg.colsample_bytree),
        RowWeights(cfg.window_days, cfg.half_life_days),
    )


def isolation_fill(x: np.ndarray) -> np.ndarray:
    """What the Isolation Forest reads for a missing value, per feature: one below the
    feature's least training value (0 - 1 where it was never present), float32."""
    with warnings.catch_warnings():  # a feature never present: its fill is -1, as said
        warnings.filterwarnings("ignore", "All-NaN slice", RuntimeWarning)
        least = np.nanmin(x, axis=0)
    fill: np.ndarray = np.nan_to_num(least, nan=0.0) - 1.0
    return fill.astype(np.float32)


def fit_isolation_forest(
    cfg: TrainConfig, x: np.ndarray
) -> tuple[IsolationForest, np.ndarray, np.ndarray]:
    """The forest fit on the training rows `x` (float32; its missing values are filled in
    place, so no second copy is made), the fill, and the forest's raw scores of the first
    ANOMALY_RANGE_ROWS rows."""
    fill = isolation_fill(x)
    np.copyto(x, fill, where=np.isnan(x))
    forest = IsolationForest(
        n_estimators=cfg.isolation_trees,
        max_samples=cfg.isolation_samples,
        random_state=cfg.seed,
        n_jobs=1,
    ).fit(x)
    return forest, fill, forest.score_samples(x[:ANOMALY_RANGE_ROWS])


def _run(rows: np.ndarray) -> slice:
    """A split's row indices as the range they are (the history is in event-time order and
    the split is by time, so each part is one run)."""
    if len(rows) == 0:
        return slice(0, 0)
    if rows[-1] - rows[0] != len(rows) - 1:
        raise ValueError("a time split's rows are not contiguous; is the history sorted?")
    return slice(int(rows[0]), int(rows[-1]) + 1)


def _versions() -> dict[str, str]:
    return {
        p: md.version(p) for p in ("xgboost-cpu", "treelite", "tl2cgen", "scikit-learn", "numpy")
    }


def _model_version(created: datetime, fingerprint: str) -> str:
    stamp = created.strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{stamp}-{hashlib.sha256((stamp + fingerprint).encode()).hexdigest()[:4]}"


def _compile(
    staging: Path,
    booster: xgb.Booster,
    forest: IsolationForest | None,
    threads: int,
    progress: Progress,
) -> dict[str, LibraryInfo]:
    """Both models compiled into `staging`; without `forest`, XGBoost alone (a refit)."""
    booster.save_model(str(staging / names.XGBOOST_SOURCE))
    models: list[tuple[str, Any, str, str]] = [
        (
            "xgboost",
            treelite.frontend.from_xgboost(booster),
            names.XGBOOST_LIBRARY,
            names.XGBOOST_CHECKPOINT,
        )
    ]
    if forest is not None:
        joblib.dump(forest, staging / names.ISOLATION_FOREST_SOURCE)
        models.append(
            (
                "isolation_forest",
                treelite.sklearn.import_model(forest),
                names.ISOLATION_FOREST_LIBRARY,
                names.ISOLATION_FOREST_CHECKPOINT,
            )
        )
    compile_step = progress.task("compiling with tl2cgen", len(models))
    libraries: dict[str, LibraryInfo] = {}
    for key, model, lib, ckpt in models:
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
    until: datetime | None = None,
) -> Manifest:
    """compare_with: the bundle in service, scored on the same test rows in the report.
    until: train as a team would have on that moment's export (ensemble/as_of.py); the
    split, the reference models and the report all see only that history."""
    cfg = cfg or TrainConfig()
    progress = progress or NoProgress()
    until_ms = None if until is None else epoch_ms(until)
    replayed = load_labelled(data, cfg.label_delay_days, until_ms)
    tx, y, store = replayed.history.tx, replayed.labels, replayed.store
    split = split_by_time(
        tx.ts, cfg.validation_share, cfg.test_share, cfg.gap_days, cfg.warmup_days
    )
    for part, rows in (("train", split.train), ("validation", split.validation)):
        if y[rows].sum() == 0 or y[rows].sum() == len(rows):
            raise ValueError(
                f"the {part} split needs both fraud and legitimate rows; use a longer history"
            )
    train_rows, val, test = (_run(r) for r in (split.train, split.validation, split.test))
    # Checked before any work: a refit the history cannot calibrate is refused now.
    plan = refit_rows(tx.ts, train_rows.start, y, cfg.label_delay_days) if cfg.refit else None

    # The whole history's matrix is never held: XGBoost reads the training rows a chunk
    # at a time into its quantized matrix, and each later step computes the rows it reads.
    validation = xgb.DMatrix(
        store.matrix(progress.task("replaying validation rows", replay_total(val)), rows=val),
        label=y[val],
        missing=np.nan,
        feature_names=list(FEATURE_NAMES),
    )
    training = quantized(
        store,
        train_rows,
        y,
        cfg.threads,
        cfg.chunk_rows,
        progress.task(
            "replaying training rows into XGBoost", replay_total(train_rows) * XGBOOST_PASSES
        ),
    )
    fixed = Fixed(cfg.n_estimators, cfg.early_stopping_rounds, cfg.seed, cfg.threads)
    found = search(
        configured_choice(cfg),
        fixed,
        training,
        validation,
        cfg.budget_s,
        progress,
        tx.ts[train_rows],
    )
    del training, validation
    booster = found.booster
    ablation = (
        _ablation(replayed, train_rows, val, found, fixed, cfg.ablate_features, progress)
        if cfg.ablate
        else {}
    )
    forest, fill, raw_train = fit_isolation_forest(
        cfg,
        store.matrix(
            progress.task(
                "replaying training rows for the Isolation Forest", replay_total(train_rows)
            ),
            rows=train_rows,
        ),
    )

    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    libraries = _compile(staging, booster, forest, cfg.threads, progress)
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
            **(
                {
                    "until": shown_ms(until_ms),
                    "labels_not_yet_known": replayed.labels_not_yet_known,
                }
                if until_ms is not None
                else {}
            ),
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
        | asdict(found.chosen.choice.rows)
        | {"trees_kept": int(booster.num_boosted_rounds())},
        libraries=libraries,
        metrics={},
        versions=_versions(),
        search=found.as_dict(cfg.budget_s),
        ablation=ablation,
    )
    manifest.write(staging)

    # The components on validation through the compiled libraries, exactly as served,
    # choose the combination; tiers are calibrated on the combined score.
    advance = progress.task(
        "replaying validation and test rows", replay_total(val) + replay_total(test)
    )
    x_val = store.matrix(advance, rows=val)
    components = ModelBundle.load(staging).score(x_val)
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
    x_test = store.matrix(advance, rows=test)
    val_scores, test_scores = bundle.score(x_val), bundle.score(x_test)
    manifest.drift = _drift(x_val, val_scores.score, booster, cfg)

    # The textbook baseline on the same rows, its review threshold at the same
    # false-positive rate on validation as the engine's.
    # And the small model: its 19 features (the baseline's first), three months.
    advance = progress.task("textbook baseline and small model", 2)
    x_small = baseline.feature_matrix(
        replayed.history, cfg.label_delay_days, baseline.SMALL_FEATURES
    )

    def reference(
        x: np.ndarray, days: float, features: tuple[str, ...], file: str
    ) -> tuple[baseline.Baseline, np.ndarray, np.ndarray, Thresholds]:
        """A reference model fitted, saved, scored on validation and test, and given its
        own thresholds (the engine's false-positive rates on its validation scores)."""
        fitted = baseline.fit(x, y, tx.ts, split.train, cfg.seed, cfg.threads, days, features)
        fitted.booster.save_model(str(staging / file))
        on_val, on_test = fitted.score(x[val]), fitted.score(x[test])
        advance(1)
        return fitted, on_val, on_test, calibrate(on_val[y[val] == 0], cfg.tier_fpr)

    base, base_val, base_test, base_thresholds = reference(
        x_small[:, : len(baseline.FEATURES)],
        baseline.TRAIN_DAYS,
        baseline.FEATURES,
        names.BASELINE_MODEL,
    )
    small, small_val, small_test, small_thresholds = reference(
        x_small, baseline.SMALL_TRAIN_DAYS, baseline.SMALL_FEATURES, names.SMALL_MODEL
    )
    manifest.baseline = {
        **_described(names.BASELINE_MODEL, base, y, cfg, base_thresholds),
        "small_model": _described(names.SMALL_MODEL, small, y, cfg, small_thresholds),
    }

    card = tx.code("card")

    def metrics(rows: slice | np.ndarray, score: np.ndarray, t: Any) -> dict[str, Any]:
        return fraud_metrics(y[rows], score, tx.amount[rows], t, card[rows], tx.ts[rows])

    engine_test = metrics(test, test_scores.score, thresholds)
    baseline_test = metrics(test, base_test, base_thresholds)
    small_test_metrics = metrics(test, small_test, small_thresholds)
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
        "small_model": {
            "validation": metrics(val, small_val, small_thresholds),
            "test": small_test_metrics,
        },
        "test_engine_vs_small_model": side_by_side(
            engine_test, small_test_metrics, ("engine", "small_model")
        ),
    }
    frame = replayed.history.frame
    if "scenario" in frame:
        scenario = frame["scenario"].fillna("").to_numpy(dtype=object)
        manifest.metrics["test_recall_by_scenario"] = recall_by_group(
            y[test], test_scores.score, scenario[test], thresholds.medium
        )
    if compare_with is not None:
        manifest.metrics["previous_bundle"] = score_previous(
            compare_with, x_test, y[test], tx.amount[test], card[test], tx.ts[test]
        )
    manifest.metrics["feature_importance"] = feature_importance(
        booster, x_test, cfg.shap_rows, cfg.seed
    )
    manifest.write(staging)
    if plan is not None:
        _refit(cfg, staging, replayed, plan, found, manifest, progress)
    write_report(staging, manifest, y[test], test_scores, base_test)

    put_in_place(staging, out)
    return manifest


def _drift(
    x: np.ndarray, scores: np.ndarray, booster: xgb.Booster, cfg: TrainConfig
) -> dict[str, Any]:
    """The drift reference of the shipped model: its scores and its most important features
    on rows it did not learn from."""
    return DriftReference.build(
        x, scores, FEATURE_NAMES, important_features(booster, FEATURE_NAMES, cfg.drift_features)
    ).as_dict()


def _refit(
    cfg: TrainConfig,
    staging: Path,
    replayed: LabelledHistory,
    plan: RefitRows,
    found: SearchResult,
    manifest: Manifest,
    progress: Progress,
) -> None:
    """XGBoost learns again on `plan.rows` with the held-back model's choices and its count
    of trees; it replaces the bundle's XGBoost. The forest and the combination are kept;
    the tiers are calibrated again, and the drift reference built again, on the recent rows
    not known to be fraud, scored out of sample. The report's figures stay the held-back
    model's, said as such."""
    tx, y, store = replayed.history.tx, replayed.labels, replayed.store
    chosen = found.chosen
    training = quantized(
        store,
        plan.rows,
        y,
        cfg.threads,
        cfg.chunk_rows,
        progress.task(
            "replaying every labelled row for the refit", replay_total(plan.rows) * XGBOOST_PASSES
        ),
    )
    booster = fit_xgboost(
        chosen.params,
        Fixed(chosen.trees, cfg.early_stopping_rounds, cfg.seed, cfg.threads),
        training,
        None,
        progress,
        "refitting XGBoost on every labelled row",
        chosen.choice.rows.weights(tx.ts[plan.rows]),
    )
    del training
    libraries = _compile(staging, booster, None, cfg.threads, progress)
    held_back = {
        "thresholds": manifest.thresholds,
        "xgboost_library_sha256": manifest.libraries["xgboost"].sha256,
        "drift_features": manifest.drift.get("features", []),
    }
    manifest.libraries["xgboost"] = libraries["xgboost"]
    manifest.write(staging)
    x_recent = store.matrix(
        progress.task("replaying the recent rows", replay_total(plan.recent)), rows=plan.recent
    )
    scored = ModelBundle.load(staging).score(x_recent)
    unlabelled = y[plan.recent] == 0
    thresholds = calibrate(scored.score[unlabelled], cfg.tier_fpr)
    manifest.thresholds = thresholds.as_dict()
    manifest.drift = _drift(x_recent, scored.score, booster, cfg)
    manifest.refit = {
        "shipped": "refit",
        **plan.as_dict(tx.ts, y),
        "trees": int(booster.num_boosted_rounds()),
        "calibrated_on_rows": int(unlabelled.sum()),
        "held_back": held_back,
    }
    manifest.write(staging)


def _ablation(
    replayed: LabelledHistory,
    train_rows: slice,
    val: slice,
    found: SearchResult,
    fixed: Fixed,
    features: tuple[str, ...],
    progress: Progress,
) -> dict[str, Any]:
    """The ablation of the chosen model's feature groups and of `features` one by one: the
    training rows held once as float32 for its fits (about 0.9 KB a row, freed before the
    forest's copy is made), weighted as the chosen model's were."""
    store, y = replayed.store, replayed.labels
    advance = progress.task(
        "replaying training and validation rows for the ablation",
        replay_total(train_rows) + replay_total(val),
    )
    return ablate(
        (store.matrix(advance, rows=train_rows), y[train_rows]),
        (store.matrix(advance, rows=val), y[val]),
        found.chosen.params,
        fixed,
        found.chosen.validation_average_precision,
        progress,
        (*groups(), *single(features)),
        weights=found.chosen.choice.rows.weights(replayed.history.tx.ts[train_rows]),
    )


def _described(
    model: str, fitted: baseline.Baseline, y: np.ndarray, cfg: TrainConfig, thresholds: Thresholds
) -> dict[str, Any]:
    """A reference model in the manifest: its file, features, fixed parameters, what it
    learned on, and its own thresholds (calibrated on its validation scores)."""
    return {
        "model": model,
        "features": list(fitted.names),
        "params": baseline.PARAMS | {"rounds": baseline.ROUNDS},
        "label_delay_days": cfg.label_delay_days,
        "trained_on": fitted.note,
        "train_rows": len(fitted.train_rows),
        "train_fraud_rows": int(y[fitted.train_rows].sum()),
        "thresholds": thresholds.as_dict(),
    }


def put_in_place(staging: Path, out: Path) -> None:
    """The finished bundle in `staging` takes `out`'s place in one step, so that a process
    loading `out` meanwhile (an API's model watch) finds the old bundle or the new one,
    never none or half of one; then the old one is removed. Where the file system cannot
    exchange two names, the old is removed first (a moment without a bundle)."""
    if not out.exists() and not out.is_symlink():
        staging.rename(out)
        return
    try:
        exchange(staging, out)
    except ExchangeUnsupported:
        _remove(out)
        staging.rename(out)
        return
    _remove(staging)  # the old bundle, or the symlink that named it


def _remove(path: Path) -> None:
    if path.is_symlink() or not path.is_dir():
        path.unlink()
    else:
        shutil.rmtree(path)
