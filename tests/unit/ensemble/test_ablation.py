"""Feature ablation: the groups partition the catalogue, a removed feature is never split
on, and several runs sum up to one table."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import xgboost as xgb
from sklearn.metrics import average_precision_score

from ensemble.ablation import (
    CALENDAR,
    EARNS,
    HELPS,
    NOISE,
    Group,
    ablate,
    fit_without,
    groups,
    kept_columns,
    single,
    summarise,
    summary_table,
    verdict,
)
from ensemble.progress import NoProgress
from ensemble.search import Fixed, HyperParams, fit_xgboost
from ensemble.train import TrainConfig
from features.definitions import ENTITIES, FEATURE_NAMES, FEATURES

HP = HyperParams(max_depth=3, min_child_weight=1.0, learning_rate=0.3)
FIXED = Fixed(n_estimators=25, early_stopping_rounds=10, seed=3, threads=1)
NAMES = ("signal", "echo", "noise_a", "noise_b", "noise_c")


def test_the_families_hold_every_feature_exactly_once() -> None:
    families = [g for g in groups() if g.kind == "family"]
    names = [n for g in families for n in g.features]
    assert sorted(names) == sorted(FEATURE_NAMES)
    assert len(names) == len(set(names)) == 233
    assert {g.name for g in families} == {f.family for f in FEATURES}


def test_velocity_per_entity_partitions_the_velocity_family() -> None:
    by_entity = [g for g in groups() if g.kind == "velocity entity"]
    assert [g.name for g in by_entity] == [f"velocity: {e}" for e in ENTITIES]
    velocity = next(g for g in groups() if g.name == "velocity").features
    names = [n for g in by_entity for n in g.features]
    assert sorted(names) == sorted(velocity)
    assert len(names) == len(set(names)) == 115
    assert all(g.features for g in by_entity)


def test_the_calendar_is_part_of_the_behavioural_family() -> None:
    behavioural = next(g for g in groups() if g.name == "behavioural").features
    assert set(CALENDAR) <= set(behavioural)


def test_single_features_are_groups_of_their_own() -> None:
    assert single(["amount", "is_night"]) == (
        Group("amount", "feature", ("amount",)),
        Group("is_night", "feature", ("is_night",)),
    )
    with pytest.raises(ValueError, match="card_count_1y"):
        single(["card_count_1y"])
    with pytest.raises(ValueError, match="card_count_1y"):
        TrainConfig(ablate=True, ablate_features=("card_count_1y",))


def test_kept_columns_are_the_others_in_model_order() -> None:
    assert kept_columns(["echo", "signal"], NAMES).tolist() == [2, 3, 4]
    with pytest.raises(ValueError, match="not features"):
        kept_columns(["nope"], NAMES)


@pytest.fixture(scope="module")
def data() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The label follows `signal`, which `echo` repeats with a little noise: the model
    splits on both when it may."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3_000, len(NAMES))).astype(np.float32)
    x[:, 1] = x[:, 0] + rng.normal(scale=0.3, size=3_000)
    x[rng.random(3_000) < 0.1, 2] = np.nan
    y = ((x[:, 0] > 1.2) ^ (rng.random(3_000) < 0.03)).astype(np.float32)
    return (x[:2_000], y[:2_000]), (x[2_000:], y[2_000:])


def _split_on(booster: xgb.Booster) -> set[str]:
    frame = booster.trees_to_dataframe()
    return set(frame["Feature"]) - {"Leaf"}


def test_a_removed_feature_is_never_split_on(data: Any) -> None:
    train, validation = data
    full, _ = fit_without((), train, validation, HP, FIXED, NoProgress(), NAMES, chunk_rows=700)
    assert {"signal", "echo"} <= _split_on(full)
    booster, ap = fit_without(
        ("signal",), train, validation, HP, FIXED, NoProgress(), NAMES, chunk_rows=700
    )
    assert booster.feature_names == ["echo", "noise_a", "noise_b", "noise_c"]
    assert "signal" not in _split_on(booster)
    assert "signal" not in booster.get_score(importance_type="weight")
    assert 0.0 < ap < 1.0


def test_nothing_removed_is_the_model_of_the_whole_matrix(data: Any) -> None:
    """The columns read a chunk at a time quantize as the whole matrix does: the same
    trees, so a delta is the removal's, not the matrix's."""
    (x, y), (x_val, y_val) = data
    whole = xgb.QuantileDMatrix(x, label=y, feature_names=list(NAMES))
    held_out = xgb.DMatrix(x_val, label=y_val, feature_names=list(NAMES))
    reference = fit_xgboost(HP, FIXED, whole, held_out, NoProgress())
    expected = float(average_precision_score(y_val, reference.predict(held_out)))
    _, ap = fit_without((), data[0], data[1], HP, FIXED, NoProgress(), NAMES, chunk_rows=700)
    assert ap == expected


def test_ablate_records_each_group_against_the_full_model_and_the_seed_noise(data: Any) -> None:
    chosen = (Group("signal", "family", ("signal",)), Group("noise", "family", ("noise_a",)))
    record = ablate(data[0], data[1], HP, FIXED, 0.9, NoProgress(), chosen, NAMES, 700)
    assert record["full_validation_average_precision"] == 0.9
    assert record["seed_noise"]["seed"] == FIXED.seed + 1
    assert record["tolerance"] == abs(record["seed_noise"]["delta"])
    assert [g["group"] for g in record["groups"]] == ["signal", "noise"]
    for g in record["groups"]:
        assert g["delta"] == pytest.approx(g["validation_average_precision"] - 0.9)
        assert g["verdict"] in {EARNS, NOISE, HELPS}
        assert 1 <= g["trees"] <= FIXED.n_estimators
    assert record["groups"][0]["features"] == ["signal"]


def _run(tolerance: float, **deltas: float) -> dict[str, Any]:
    return {"tolerance": tolerance, "groups": [{"group": g, "delta": d} for g, d in deltas.items()]}


def test_the_summary_spreads_each_group_over_seeds_and_says_where_it_earns() -> None:
    runs = [
        ("default", _run(0.001, labels=-0.05, calendar=0.002)),
        ("default", _run(0.001, labels=-0.03, calendar=-0.0005)),
        ("terminals", _run(0.002, labels=-0.01, calendar=-0.004)),
        ("terminals", _run(0.002, labels=-0.001, calendar=-0.003)),
    ]
    spreads = summarise(runs)
    labels = spreads["labels"]["default"]
    assert (labels.mean, labels.low, labels.high, labels.seeds) == pytest.approx(
        (-0.04, -0.05, -0.03, 2)
    )
    assert labels.earns
    # On terminals one seed's delta is within that run's noise.
    assert not spreads["labels"]["terminals"].earns
    assert verdict(spreads["labels"], ["default", "terminals"]) == "some: default"
    assert verdict(spreads["calendar"], ["default", "terminals"]) == "some: terminals"
    assert verdict(spreads["labels"], ["default"]) == "every preset"
    assert verdict(spreads["labels"], ["terminals"]) == "none"

    table = summary_table(runs).splitlines()
    assert table[0] == "| group | default | terminals | earns its place on |"
    assert table[2] == (
        "| labels | -0.0400 (-0.0500 to -0.0300, 2 seeds) | -0.0055 (-0.0100 to -0.0010, "
        "2 seeds) | some: default |"
    )
    assert len(table) == 4


def test_a_preset_without_the_group_is_not_counted_as_earned() -> None:
    runs = [("default", _run(0.0, labels=-0.1)), ("mixed", _run(0.0, other=-0.1))]
    table = summary_table(runs).splitlines()
    assert table[2] == "| labels | -0.1000 (-0.1000 to -0.1000, 1 seed) | n/a | some: default |"
