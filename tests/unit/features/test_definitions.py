"""The catalogue and the compute functions agree, and one row alone scores like a bulk replay."""

from __future__ import annotations

import numpy as np

from features.catalogue import render
from features.compute import compute_all, entities_features, entity_features, feature_matrix
from features.definitions import (
    ENTITIES,
    FEATURE_NAMES,
    FEATURES,
    LABEL_HORIZONS,
    LABEL_WINDOW_MS,
    LABELLED_ENTITIES,
    PROFILE_DAYS,
    PROFILED_ENTITIES,
)
from features.encode import prepare_history
from features.replay import ReplayStore
from synthetic.generator import GeneratorConfig, generate


def test_at_least_150_uniquely_named_features_each_with_a_definition() -> None:
    assert len(FEATURES) >= 150
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)
    assert all(f.definition and f.family for f in FEATURES)
    families = {f.family for f in FEATURES}
    assert {"velocity", "behavioural", "geographic", "device_network"} <= families


def test_catalogue_lists_every_feature() -> None:
    text = render()
    assert all(f"`{name}`" in text for name in FEATURE_NAMES)


def test_one_row_windows_give_the_same_features_as_the_bulk_replay() -> None:
    """The online path computes N=1 batches with their own window width; padding must not matter."""
    history = prepare_history(generate(GeneratorConfig(days=9, cards=150, seed=1)), 7.0)
    labels = history.frame["is_fraud"].to_numpy()
    store = ReplayStore(history.tx, history.label_known_at, labels)
    bulk = store.matrix()
    for i in np.random.default_rng(0).choice(len(history.tx), 60, replace=False):
        rows = np.array([i])
        windows = {e: store.window(e, rows) for e in ENTITIES}
        label_windows = {e: store.label_window(e, rows) for e in LABELLED_ENTITIES}
        profiles = {e: store.profiles[e][rows] for e in LABELLED_ENTITIES}
        single = feature_matrix(
            compute_all(history.tx.subset(rows), windows, label_windows, profiles), 1
        )
        np.testing.assert_array_equal(single[0], bulk[i])


def test_entities_stacked_in_one_pass_give_the_features_of_each_alone() -> None:
    """Online, narrow windows of several entities are padded and computed together."""
    history = prepare_history(generate(GeneratorConfig(days=9, cards=150, seed=2)), 7.0)
    store = ReplayStore(history.tx, history.label_known_at, history.frame["is_fraud"].to_numpy())
    rows = np.random.default_rng(1).choice(len(history.tx), 40, replace=False)
    tx = history.tx.subset(rows)
    windows = {e: store.window(e, rows) for e in ENTITIES}
    assert len({w.width for w in windows.values()}) > 1  # padding is exercised
    assert (tx.code("device") < 0).any()  # and rows without an entity
    together = entities_features(windows, tx)
    alone: dict[str, np.ndarray] = {}
    for entity, window in windows.items():
        alone |= entity_features(entity, window, tx)
    assert together.keys() == alone.keys()
    for name, values in alone.items():
        np.testing.assert_array_equal(together[name], values, err_msg=name)


def test_every_label_horizon_has_a_profile_to_rate_it_by() -> None:
    """The rate's denominator is the profile count of the same length, and the label window
    read from Redis reaches the longest horizon."""
    assert all(f"prev{h}" in PROFILE_DAYS for h in LABEL_HORIZONS)
    assert max(LABEL_HORIZONS.values()) == LABEL_WINDOW_MS
    assert PROFILED_ENTITIES == LABELLED_ENTITIES
