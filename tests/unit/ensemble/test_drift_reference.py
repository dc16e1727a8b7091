"""The drift reference written by `fraud train`: built from rows, read back the same."""

from __future__ import annotations

import numpy as np
import orjson
import xgboost as xgb

from ensemble.drift_reference import DriftReference, important_features

NAMES = ("a", "b", "c")


def reference() -> DriftReference:
    rng = np.random.default_rng(1)
    matrix = rng.normal(size=(500, 3)).astype(np.float32)
    matrix[:100, 2] = np.nan
    return DriftReference.build(matrix, rng.uniform(size=500), NAMES, ["c", "a"])


def test_the_reference_holds_each_watched_feature_and_the_score() -> None:
    ref = reference()
    assert ref.features == ("c", "a")
    assert ref.rows == 500
    assert ref.counts.sum(axis=1).tolist() == [500, 500]
    assert ref.counts[0, 0] == 100  # c's missing values
    assert ref.counts[1, 0] == 0
    assert ref.score_counts.sum() == 500
    assert len(ref.score_counts) == 10


def test_the_manifest_entry_reads_back_to_the_same_reference() -> None:
    ref = reference()
    again = DriftReference.from_dict(orjson.loads(orjson.dumps(ref.as_dict())))
    assert again.features == ref.features
    assert all(np.array_equal(x, y) for x, y in zip(again.edges, ref.edges, strict=True))
    assert np.array_equal(again.counts, ref.counts)
    assert np.array_equal(again.score_counts, ref.score_counts)
    assert again.rows == ref.rows


def test_the_important_features_are_those_of_most_gain() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3))
    y = (x[:, 1] + 0.1 * x[:, 2] > 0).astype(int)
    booster = xgb.train(
        {"max_depth": 2, "nthread": 1}, xgb.DMatrix(x, y, feature_names=list(NAMES)), 10
    )
    assert important_features(booster, NAMES, 1) == ["b"]
    assert important_features(booster, NAMES, 5)[:2] == ["b", "c"]
