"""Trained bundles: the baseline beside the engine, the bundle in service compared, old bundles
refused or reported, the report's first line. No servers."""

from __future__ import annotations

import shutil
from pathlib import Path

import joblib
import numpy as np
import orjson
import pytest
import xgboost as xgb
from sklearn.ensemble import IsolationForest

from ensemble.bundle import BatchScores, ModelBundle
from ensemble.comparison import score_previous, side_by_side
from ensemble.evaluate import evaluate
from ensemble.labelled import load_labelled
from ensemble.manifest import ISOLATION_FOREST_SOURCE, XGBOOST_SOURCE, BundleError, Manifest
from ensemble.progress import NoProgress
from ensemble.report import write_report
from ensemble.search import Fixed, HyperParams, fit_xgboost
from ensemble.split import split_by_time
from ensemble.train import TrainConfig, train
from features.definitions import FEATURE_NAMES
from tests.bars import Bars

COMPARED_KEYS = {
    "average_precision",
    "roc_auc",
    "recall_at_fpr_0.01",
    "recall_at_fpr_0.02",
    "card_precision_at_100",
    "value_detection_rate",
}


# Training rows read in chunks that do not divide them.
RETRAIN = TrainConfig(
    n_estimators=20, isolation_trees=20, shap_rows=300, chunk_rows=4_093, budget_s=0
)


def edit_manifest(directory: Path, **changes: object) -> None:
    path = directory / "manifest.json"
    raw = orjson.loads(path.read_bytes())
    raw.update(changes)
    path.write_bytes(orjson.dumps(raw))


@pytest.fixture(scope="module")
def retrained_bars(
    tmp_path_factory: pytest.TempPathFactory, history_file: Path, bundle_dir: Path
) -> tuple[Path, Bars]:
    """A second, small bundle trained with the session's bundle as the one in service, and
    the progress bars its training reported."""
    out = tmp_path_factory.mktemp("retrain") / "bundle"
    bars = Bars()
    train(history_file, out, RETRAIN, bars, compare_with=bundle_dir)
    return out, bars


@pytest.fixture(scope="module")
def retrained(retrained_bars: tuple[Path, Bars]) -> Path:
    return retrained_bars[0]


def test_every_bar_of_a_training_ends_full_or_finished(retrained_bars: tuple[Path, Bars]) -> None:
    """None is left half full (on a terminal: red, its clock counting)."""
    bars = retrained_bars[1]
    assert "training XGBoost" in [b.description for b in bars.made]
    assert bars.unfinished() == []


def test_training_records_the_choice_the_search_and_the_baseline(retrained: Path) -> None:
    manifest = Manifest.read(retrained)
    names = [c["name"] for c in manifest.selection["candidates"]]
    assert names[:2] == ["weights 0.7/0.3", "xgboost alone"]
    assert "stacker" in names
    assert manifest.selection["chosen"] in names
    chosen = next(
        c for c in manifest.selection["candidates"] if c["name"] == manifest.selection["chosen"]
    )
    assert chosen["combination"] == manifest.combination
    assert chosen["average_precision"] == max(
        c["average_precision"] for c in manifest.selection["candidates"]
    )
    assert len(manifest.search["trials"]) == 1  # no budget: the configured parameters only
    assert (retrained / manifest.baseline["model"]).stat().st_size > 0
    assert set(manifest.metrics["baseline"]["test"]) >= COMPARED_KEYS
    assert set(manifest.metrics["test_engine_vs_baseline"]) >= COMPARED_KEYS
    # The 19-feature model beside it: its file, its features (the baseline's first), figures.
    small = manifest.baseline["small_model"]
    assert (retrained / small["model"]).stat().st_size > 0
    assert small["features"][:15] == manifest.baseline["features"]
    assert len(small["features"]) == 19
    assert set(manifest.metrics["small_model"]["test"]) >= COMPARED_KEYS
    assert set(manifest.metrics["test_engine_vs_small_model"]) >= COMPARED_KEYS
    importance = manifest.metrics["feature_importance"]
    assert importance["shap_rows"] == 300
    assert all(f["mean_abs_shap"] >= 0 for f in importance["features"])
    report = (retrained / "report.md").read_text()
    for section in (
        "## Engine against the reference models (test)",
        "## Ensemble choice",
        "## Training choices (validation)",
        "mean abs SHAP",
    ):
        assert section in report


def test_training_in_chunks_learns_what_the_whole_matrix_teaches(
    retrained: Path, history_file: Path, tmp_path: Path
) -> None:
    """`train` never holds the whole matrix: XGBoost reads the training rows in chunks and
    the forest its own replay of them. Trained the way it was before, from the whole
    matrix's parts, the same configuration gives the same trees and the same forest."""
    cfg = RETRAIN
    loaded = load_labelled(history_file, cfg.label_delay_days)
    x, y = loaded.store.matrix(), loaded.labels
    split = split_by_time(
        loaded.history.tx.ts, cfg.validation_share, cfg.test_share, cfg.gap_days, cfg.warmup_days
    )
    train_rows, val = split.train, split.validation
    assert len(train_rows) > 5 * cfg.chunk_rows
    names = list(FEATURE_NAMES)
    booster = fit_xgboost(
        HyperParams(cfg.max_depth, cfg.min_child_weight, cfg.learning_rate),
        Fixed(cfg.n_estimators, cfg.early_stopping_rounds, cfg.seed, cfg.threads),
        xgb.QuantileDMatrix(
            x[train_rows], label=y[train_rows], missing=np.nan, feature_names=names
        ),
        xgb.DMatrix(x[val], label=y[val], missing=np.nan, feature_names=names),
        NoProgress(),
    )
    booster.save_model(str(tmp_path / "whole.json"))
    assert orjson.loads((retrained / XGBOOST_SOURCE).read_bytes()) == orjson.loads(
        (tmp_path / "whole.json").read_bytes()
    )

    x_train = x[train_rows]
    fill = np.nan_to_num(np.nanmin(x_train, axis=0), nan=0.0) - 1.0
    filled = np.where(np.isnan(x_train), fill, x_train)
    forest = IsolationForest(
        n_estimators=cfg.isolation_trees,
        max_samples=cfg.isolation_samples,
        random_state=cfg.seed,
        n_jobs=1,
    ).fit(filled)
    manifest = Manifest.read(retrained)
    assert manifest.isolation_forest_fill == [float(v) for v in fill]
    raw = forest.score_samples(filled[:50_000])
    assert manifest.anomaly_range == {"low": float(np.median(-raw)), "high": float(np.max(-raw))}
    test_rows = x[split.test]
    test_rows = np.where(np.isnan(test_rows), fill, test_rows)
    kept = joblib.load(retrained / ISOLATION_FOREST_SOURCE)
    np.testing.assert_array_equal(kept.score_samples(test_rows), forest.score_samples(test_rows))


def test_the_bundle_in_service_is_scored_on_the_same_test_rows(
    retrained: Path, bundle_dir: Path
) -> None:
    previous = Manifest.read(retrained).metrics["previous_bundle"]
    assert previous["scored"] is True
    assert previous["model_version"] == Manifest.read(bundle_dir).model_version
    assert previous["metrics"]["rows"] == Manifest.read(retrained).split["test_rows"]
    assert set(previous["metrics"]) >= COMPARED_KEYS
    assert previous["saw_these_rows"] is False  # the same history, split the same way
    report = (retrained / "report.md").read_text()
    assert "## Against the bundle in service (test)" in report
    assert "| metric | new | in service |" in report


def test_a_bundle_in_service_with_other_features_is_reported_not_scored(
    bundle_dir: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    shutil.copytree(bundle_dir, other)
    names = Manifest.read(other).feature_names
    edit_manifest(other, feature_names=[*names[1:], "a_feature_of_tomorrow"])
    rows = np.zeros((3, len(names)), np.float32)
    args = (rows, np.array([0, 1, 0]), np.ones(3), np.arange(3), np.zeros(3, np.int64))
    out = score_previous(other, *args)
    assert out["scored"] is False
    assert "another feature set" in out["reason"]
    assert "1 added, 1 removed" in out["reason"]

    edit_manifest(other, schema_version=1)
    out = score_previous(other, *args)
    assert out["scored"] is False
    assert "schema version 1" in out["reason"]


def test_an_old_schema_bundle_is_refused_with_a_clear_message(
    bundle_dir: Path, tmp_path: Path
) -> None:
    old = tmp_path / "old"
    shutil.copytree(bundle_dir, old)
    edit_manifest(old, schema_version=1, weights={"xgboost": 0.7, "isolation_forest": 0.3})
    with pytest.raises(
        BundleError,
        match=r"schema version 1, this version reads 2; retrain the bundle with `fraud train`",
    ):
        ModelBundle.load(old)


def test_a_stacked_bundle_scores_one_row_as_in_a_batch(
    bundle_dir: Path, history_file: Path, tmp_path: Path
) -> None:
    stacked = tmp_path / "stacked"
    shutil.copytree(bundle_dir, stacked)
    combination = {"kind": "stacker", "intercept": -2.5, "xgboost_logit": 1.1, "anomaly": 0.9}
    edit_manifest(stacked, combination=combination)
    bundle = ModelBundle.load(stacked)
    rows = load_labelled(history_file, 7.0).store.matrix(rows=slice(0, 400))
    batch = bundle.score(rows)
    p, a = batch.xgboost, batch.isolation_forest
    q = np.clip(p, 1e-7, 1 - 1e-7)
    want = 1 / (1 + np.exp(-(-2.5 + 1.1 * np.log(q / (1 - q)) + 0.9 * a)))
    np.testing.assert_allclose(batch.score, want, rtol=1e-12)
    for i in range(0, 400, 20):
        one = bundle.score_row(np.ascontiguousarray(rows[i]))
        assert one.score == pytest.approx(batch.score[i], rel=1e-12)
        assert one.risk_tier == batch.risk_tier[i]


def test_evaluate_scores_the_baseline_on_the_same_rows(
    bundle_dir: Path, history_file: Path
) -> None:
    metrics = evaluate(history_file, bundle_dir, 7.0)
    base = metrics["baseline"]
    assert base["rows"] == metrics["rows"]
    assert set(base) >= COMPARED_KEYS
    assert 0 < base["average_precision"] <= 1
    assert metrics["comparison"] == side_by_side(metrics, base)
    assert metrics["comparison"]["average_precision"]["engine"] == metrics["average_precision"]
    assert isinstance(metrics["comparison"]["engine_beats_baseline"], bool)


def test_the_report_opens_with_the_engine_losing_to_the_baseline(
    bundle_dir: Path, tmp_path: Path
) -> None:
    manifest = Manifest.read(bundle_dir)
    manifest.metrics["test_engine_vs_baseline"] = side_by_side(
        manifest.metrics["test"] | {"average_precision": 0.30},
        manifest.metrics["baseline"]["test"] | {"average_precision": 0.55},
    )
    manifest.metrics["test_engine_vs_small_model"] = side_by_side(
        manifest.metrics["test"] | {"average_precision": 0.30},
        manifest.metrics["small_model"]["test"] | {"average_precision": 0.45},
        ("engine", "small_model"),
    )
    manifest.metrics["previous_bundle"] = {
        "path": "/models/current",
        "scored": False,
        "reason": "it was trained on another feature set",
    }
    rng = np.random.default_rng(0)
    y = (rng.random(200) < 0.1).astype(np.int8)
    s = rng.random(200)
    write_report(tmp_path, manifest, y, BatchScores(s, s, s, np.full(200, "low", dtype=object)), s)
    lines = (tmp_path / "report.md").read_text().splitlines()
    assert lines[0] == (
        "**The engine does not beat the textbook baseline: test average precision 0.3000 "
        "against the 19-feature model's 0.4500 and the textbook baseline's 0.5500.**"
    )
    assert lines[2].startswith("# Model report")
    text = "\n".join(lines)
    assert (
        "The bundle at `/models/current` cannot be scored on these rows: it was trained on another feature set."
        in text
    )


def test_a_refit_ships_xgboost_learned_on_every_labelled_row_and_keeps_the_held_back_figures(
    tmp_path: Path, history_file: Path
) -> None:
    cfg = TrainConfig(n_estimators=20, isolation_trees=20, shap_rows=300, budget_s=0)
    held_back_dir, refit_dir = tmp_path / "held_back", tmp_path / "refit"
    held_back = train(history_file, held_back_dir, cfg)
    cfg.refit = True
    shipped = train(history_file, refit_dir, cfg)

    replayed = load_labelled(history_file, cfg.label_delay_days)
    ts, y = replayed.history.tx.ts, replayed.labels
    r = shipped.refit
    recent = ts >= int(ts[-1]) + 1 - int(cfg.label_delay_days * 86_400_000)
    assert r["recent_rows"] == int(recent.sum())
    train_start = int(np.searchsorted(ts, ts.min() + int(cfg.warmup_days * 86_400_000)))
    assert r["rows"] == int(np.argmax(recent)) - train_start  # the train split's start on
    assert r["fraud_rows"] > held_back.baseline["small_model"]["train_fraud_rows"]
    assert r["trees"] == held_back.params["trees_kept"] == shipped.params["trees_kept"]
    # The figures are the held-back model's: the same as the bundle trained without --refit.
    assert shipped.metrics["test"] == held_back.metrics["test"]
    assert r["held_back"]["thresholds"] == held_back.thresholds
    assert r["held_back"]["xgboost_library_sha256"] == held_back.libraries["xgboost"].sha256
    assert shipped.libraries["xgboost"].sha256 != held_back.libraries["xgboost"].sha256
    # The shipped tiers flag the target share of the recent rows not known to be fraud,
    # which the refit never learned from.
    bundle = ModelBundle.load(refit_dir)
    scored = bundle.score(replayed.store.matrix(rows=slice(int(np.argmax(recent)), len(ts))))
    unlabelled = y[recent] == 0
    assert r["calibrated_on_rows"] == int(unlabelled.sum())
    flagged = (scored.score[unlabelled] >= shipped.thresholds["medium"]).mean()
    assert flagged == pytest.approx(shipped.tier_fpr["medium"], abs=0.002)
    assert "Shipped: XGBoost **refit**" in (refit_dir / "report.md").read_text()
    assert "Shipped: the model measured below" in (held_back_dir / "report.md").read_text()


def test_a_refit_the_history_cannot_calibrate_is_refused_before_anything_is_written(
    tmp_path: Path, history_file: Path
) -> None:
    cfg = TrainConfig(n_estimators=20, isolation_trees=20, budget_s=0, refit=True)
    cfg.label_delay_days = 0.0  # no row left after the refit's to calibrate its tiers on
    with pytest.raises(ValueError, match="train without --refit"):
        train(history_file, tmp_path / "bundle", cfg)
    assert list(tmp_path.iterdir()) == []
