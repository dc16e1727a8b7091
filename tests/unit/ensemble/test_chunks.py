"""The replayed matrix in chunks is the whole matrix to everything that reads it: XGBoost's
quantized training matrix from chunks is the one from the whole matrix (the same cuts, the
same quantized rows, the same trees), scores in chunks are the scores of the whole, and
the Isolation Forest gets what it got from the whole matrix's training rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb
from sklearn.ensemble import IsolationForest

from ensemble.bundle import ModelBundle
from ensemble.chunks import parts, quantized, scores
from ensemble.labelled import LabelledHistory, load_labelled
from ensemble.train import ANOMALY_RANGE_ROWS, TrainConfig, fit_isolation_forest
from features.definitions import ENTITIES, FEATURE_NAMES

CHUNK = 3_001  # chunks that do not divide the rows


@pytest.fixture(scope="module")
def loaded(history_file: Path) -> LabelledHistory:
    return load_labelled(history_file, 7.0)


@pytest.fixture(scope="module")
def rows(loaded: LabelledHistory) -> slice:
    """A middle part of the history, as the training rows are (their windows reach back)."""
    n = len(loaded.labels)
    return slice(n // 4, 3 * n // 4)


def test_parts_cover_a_range_in_order_once() -> None:
    assert list(parts(slice(5, 12), 3)) == [slice(5, 8), slice(8, 11), slice(11, 12)]
    assert list(parts(slice(5, 5), 3)) == []
    with pytest.raises(ValueError, match="at least one row"):
        list(parts(slice(0, 4), 0))


def test_the_quantized_matrix_from_chunks_is_the_one_from_the_whole_matrix(
    loaded: LabelledHistory, rows: slice
) -> None:
    assert (rows.stop - rows.start) // CHUNK >= 5
    chunked = quantized(loaded.store, rows, loaded.labels, threads=2, size=CHUNK)
    whole = xgb.QuantileDMatrix(
        loaded.store.matrix(rows=rows),
        label=loaded.labels[rows],
        missing=np.nan,
        feature_names=list(FEATURE_NAMES),
        nthread=2,
    )
    assert (chunked.num_row(), chunked.num_col()) == (whole.num_row(), whole.num_col())
    assert chunked.feature_names == whole.feature_names
    np.testing.assert_array_equal(chunked.get_label(), whole.get_label())
    for got, want in zip(chunked.get_quantile_cut(), whole.get_quantile_cut(), strict=True):
        np.testing.assert_array_equal(got, want)
    got_rows, want_rows = chunked.get_data(), whole.get_data()  # the bin of every value
    np.testing.assert_array_equal(got_rows.indptr, want_rows.indptr)
    np.testing.assert_array_equal(got_rows.indices, want_rows.indices)
    np.testing.assert_array_equal(got_rows.data, want_rows.data)

    params = {"tree_method": "hist", "objective": "binary:logistic", "seed": 3, "nthread": 2}
    params |= {"subsample": 0.8, "colsample_bytree": 0.6}
    trees = [xgb.train(params, d, num_boost_round=8).save_raw("json") for d in (chunked, whole)]
    assert trees[0] == trees[1]


def test_scores_in_chunks_are_the_scores_of_the_whole_matrix(
    loaded: LabelledHistory, rows: slice, bundle_dir: Path
) -> None:
    bundle = ModelBundle.load(bundle_dir)
    told: list[int] = []
    chunked = scores(bundle, loaded.store, rows, CHUNK, told.append)
    whole = bundle.score(loaded.store.matrix(rows=rows))
    for name in ("score", "xgboost", "isolation_forest", "risk_tier"):
        np.testing.assert_array_equal(getattr(chunked, name), getattr(whole, name))
    assert sum(told) == (rows.stop - rows.start) * len(ENTITIES)  # once per entity


def test_the_isolation_forest_gets_the_filled_training_rows() -> None:
    """The fill and the forest as they were computed from the whole matrix's training rows
    (a copy with NaN replaced), now filled in place."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(ANOMALY_RANGE_ROWS + 700, 6)).astype(np.float32)
    x[rng.random(x.shape) < 0.3] = np.nan
    x[:, 4] = np.nan  # a feature never present in training
    before = x.copy()
    cfg = TrainConfig(isolation_trees=15, seed=9, budget_s=0)

    forest, fill, raw = fit_isolation_forest(cfg, x)

    with pytest.warns(RuntimeWarning, match="All-NaN"):
        least = np.nanmin(before, axis=0)
    want_fill = (np.nan_to_num(least, nan=0.0) - 1.0).astype(np.float32)
    np.testing.assert_array_equal(fill, want_fill)
    assert fill[4] == -1.0
    filled = np.where(np.isnan(before), want_fill, before)
    np.testing.assert_array_equal(x, filled)  # filled in place
    want = IsolationForest(
        n_estimators=cfg.isolation_trees,
        max_samples=cfg.isolation_samples,
        random_state=cfg.seed,
        n_jobs=1,
    ).fit(filled)
    probe = rng.normal(size=(500, 6)).astype(np.float32)
    np.testing.assert_array_equal(forest.score_samples(probe), want.score_samples(probe))
    np.testing.assert_array_equal(raw, want.score_samples(filled[:ANOMALY_RANGE_ROWS]))
