"""Compiled libraries agree with xgboost and scikit-learn; loading copes with bad libraries."""

from __future__ import annotations

import shutil
from pathlib import Path

import joblib
import numpy as np
import pytest
import xgboost as xgb
from treelite.core import TreeliteError

from ensemble.bundle import ModelBundle
from ensemble.labelled import load_labelled
from ensemble.manifest import BundleError, Manifest
from ensemble.native import CompiledForest, GtilForest
from features.definitions import FEATURE_NAMES


@pytest.fixture(scope="module")
def rows(history_file: Path) -> np.ndarray:
    matrix = load_labelled(history_file, 7.0).store.matrix()
    return matrix[np.random.default_rng(0).choice(len(matrix), 3_000, replace=False)]


def test_compiled_outputs_equal_xgboost_and_scikit_learn(
    bundle_dir: Path, rows: np.ndarray
) -> None:
    assert np.isnan(rows).any()  # missing values take the trees' default branches
    bundle = ModelBundle.load(bundle_dir)
    booster = xgb.Booster(model_file=str(bundle_dir / "xgboost.json"))
    forest = joblib.load(bundle_dir / "isolation_forest.joblib")
    want_p = booster.predict(xgb.DMatrix(rows, missing=np.nan, feature_names=list(FEATURE_NAMES)))
    want_raw = -forest.score_samples(bundle.forest_input(rows))

    xgb_lib, iso_lib = bundle._xgb, bundle._iso
    assert isinstance(xgb_lib, CompiledForest)
    assert isinstance(iso_lib, CompiledForest)
    one_by_one = np.array([xgb_lib.predict_row(r) for r in rows])
    np.testing.assert_allclose(one_by_one, want_p, atol=1e-5)
    np.testing.assert_allclose(xgb_lib.predict(rows), want_p, atol=1e-5)
    np.testing.assert_allclose([iso_lib.predict_row(r) for r in rows], want_raw, atol=1e-5)
    np.testing.assert_allclose(iso_lib.predict(rows), want_raw, atol=1e-5)


def test_row_and_batch_scoring_agree(bundle_dir: Path, rows: np.ndarray) -> None:
    bundle = ModelBundle.load(bundle_dir)
    batch = bundle.score(rows[:500])
    for i in range(0, 500, 50):
        one = bundle.score_row(rows[i])
        assert one.score == pytest.approx(batch.score[i], abs=1e-6)
        assert one.risk_tier == batch.risk_tier[i]
    assert ((batch.score >= 0) & (batch.score <= 1)).all()


def test_a_batch_of_one_scores_exactly_as_within_a_larger_batch(
    bundle_dir: Path, rows: np.ndarray
) -> None:
    """A batch of one takes the row path (a quarter of the cost): the same numbers, to the
    bit, and the same types, as the batch path gives that row."""
    bundle = ModelBundle.load(bundle_dir)
    some = rows[:300].copy()
    some[::7, ::3] = np.nan  # rows with missing features too
    batch = bundle.score(some)
    for i in range(len(some)):
        one = bundle.score(some[i : i + 1])
        for name in ("score", "xgboost", "isolation_forest", "risk_tier"):
            got, want = getattr(one, name), getattr(batch, name)
            assert got.dtype == want.dtype, name
            assert got[0] == want[i], (name, i)


def test_a_missing_library_is_recompiled_with_a_warning(
    bundle_dir: Path, tmp_path: Path, rows: np.ndarray
) -> None:
    copy = tmp_path / "bundle"
    shutil.copytree(bundle_dir, copy)
    (copy / "xgboost.so").unlink()
    with pytest.warns(UserWarning, match="recompiled"):
        bundle = ModelBundle.load(copy)
    assert isinstance(bundle._xgb, CompiledForest)
    np.testing.assert_allclose(
        bundle.score(rows[:300]).score,
        ModelBundle.load(bundle_dir).score(rows[:300]).score,
        atol=1e-6,
    )


def test_a_library_built_for_another_platform_is_not_loaded(
    bundle_dir: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "bundle"
    shutil.copytree(bundle_dir, copy)
    manifest = Manifest.read(copy)
    manifest.libraries["isolation_forest"].platform = "darwin-arm64"
    manifest.write(copy)
    with pytest.warns(UserWarning, match="recompiled"):
        ModelBundle.load(copy)


@pytest.fixture
def without_compiler(
    bundle_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> ModelBundle:
    """The bundle loaded where its library is broken and no compiler can rebuild it."""
    copy = tmp_path / "bundle"
    shutil.copytree(bundle_dir, copy)
    (copy / "xgboost.so").write_bytes(b"not a library")
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    with pytest.warns(UserWarning, match="gtil"):
        return ModelBundle.load(copy)


def test_without_a_compiler_it_falls_back_to_gtil(
    bundle_dir: Path, rows: np.ndarray, without_compiler: ModelBundle
) -> None:
    bundle = without_compiler
    assert isinstance(bundle._xgb, GtilForest)
    np.testing.assert_allclose(
        bundle.score(rows[:200]).score,
        ModelBundle.load(bundle_dir).score(rows[:200]).score,
        atol=1e-5,
    )


def test_reasons_name_the_features_that_raised_the_score(
    bundle_dir: Path, rows: np.ndarray
) -> None:
    bundle = ModelBundle.load(bundle_dir)
    top = rows[int(np.argmax(bundle.score(rows).score))]
    reasons = bundle.reasons(top, top=3)
    assert 1 <= len(reasons) <= 3
    assert all(r.contribution > 0 for r in reasons)
    assert [r.contribution for r in reasons] == sorted(
        (r.contribution for r in reasons), reverse=True
    )


def test_a_missing_feature_is_never_a_reason_and_the_next_present_one_takes_its_place(
    bundle_dir: Path, rows: np.ndarray
) -> None:
    """Rows where a missing value pushed the score up (a new card's
    card_distance_from_centroid_km): their reasons are the top present features."""
    bundle = ModelBundle.load(bundle_dir)
    contribs = bundle.contributions(rows)
    pushed = np.flatnonzero((np.isnan(rows) & (contribs > 0)).any(axis=1))
    assert len(pushed) > 0  # the history has such rows: the test tests something
    for row, reasons in zip(rows[pushed], bundle.reasons_many(rows[pushed]), strict=True):
        present = np.where(np.isnan(row), -np.inf, bundle.contributions(row[None, :])[0])
        want = [FEATURE_NAMES[j] for j in np.argsort(-present, kind="stable")[:3] if present[j] > 0]
        assert [r.feature for r in reasons] == want
        assert all(r.value is not None and r.value == r.value for r in reasons)


def test_compiled_reasons_weigh_features_as_xgboost_approx_contribs(
    bundle_dir: Path, rows: np.ndarray
) -> None:
    bundle = ModelBundle.load(bundle_dir)
    booster = xgb.Booster(model_file=str(bundle_dir / "xgboost.json"))
    data = xgb.DMatrix(rows, missing=np.nan, feature_names=list(FEATURE_NAMES))
    want = booster.predict(data, pred_contribs=True, approx_contribs=True)[:, :-1]
    got = bundle.contributions(rows)
    assert isinstance(bundle._xgb, CompiledForest)
    assert got.shape == want.shape
    assert np.abs(want).max() > 0.1
    np.testing.assert_allclose(got, want, atol=2e-5)
    # Contributions plus the bias add up to the margin the compiled trees give.
    margin = booster.predict(data, output_margin=True)
    bias = margin - want.sum(axis=1)
    np.testing.assert_allclose(got.sum(axis=1) + bias, margin, atol=1e-4)
    assert np.ptp(bias) < 1e-4  # the same expected value for every row


def test_reasons_without_a_compiled_library_are_the_same(
    bundle_dir: Path, rows: np.ndarray, without_compiler: ModelBundle
) -> None:
    fallback = without_compiler
    compiled = ModelBundle.load(bundle_dir)
    for slow, fast in zip(
        fallback.reasons_many(rows[:300]), compiled.reasons_many(rows[:300]), strict=True
    ):
        assert [r.feature for r in slow] == [r.feature for r in fast]
        assert [r.value for r in slow] == [r.value for r in fast]
        assert [r.contribution for r in slow] == pytest.approx(
            [r.contribution for r in fast], abs=2e-5
        )


def test_a_loaded_compiled_bundle_is_ready_and_one_built_by_hand_is_not(
    bundle_dir: Path,
) -> None:
    bundle = ModelBundle.load(bundle_dir)
    assert bundle.ready
    by_hand = ModelBundle(bundle.path, bundle.manifest, bundle._xgb, bundle._iso)
    assert not by_hand.ready  # not checked by load()


def test_a_bundle_on_the_gtil_fallback_scores_but_is_not_ready(
    without_compiler: ModelBundle,
) -> None:
    assert not without_compiler.ready
    assert len(without_compiler.score(np.zeros((2, len(FEATURE_NAMES)), np.float32)).score) == 2


def test_a_bundle_whose_library_and_checkpoint_are_damaged_raises_at_load(
    bundle_dir: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "bundle"
    shutil.copytree(bundle_dir, copy)
    manifest = Manifest.read(copy)
    lib = manifest.libraries["isolation_forest"]
    (copy / lib.file).write_bytes(b"not a library")
    (copy / lib.checkpoint).write_bytes(b"not a checkpoint")
    with pytest.raises(TreeliteError, match="Cannot load model"):
        ModelBundle.load(copy)


def test_a_library_that_loads_but_computes_nonsense_fails_the_smoke_prediction(
    bundle_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(CompiledForest, "predict", lambda self, rows: np.full(len(rows), np.nan))
    with pytest.raises(BundleError, match="smoke prediction"):
        ModelBundle.load(bundle_dir)
    monkeypatch.undo()
    drift = CompiledForest.predict_row
    monkeypatch.setattr(CompiledForest, "predict_row", lambda self, row: drift(self, row) * 0.5)
    with pytest.raises(BundleError, match="row and batch scoring disagree"):
        ModelBundle.load(bundle_dir)
