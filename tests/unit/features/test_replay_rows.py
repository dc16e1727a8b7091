"""The replay's features of chosen rows (a backtest's period, its look-back only history)
are those of the whole replay at those rows, whatever the chunk size."""

from __future__ import annotations

import numpy as np

from features.definitions import FEATURE_NAMES
from features.encode import prepare_history
from features.replay import ReplayStore
from synthetic.config import GeneratorConfig
from synthetic.generator import generate


def test_features_of_chosen_rows_equal_the_whole_replays_in_chunks() -> None:
    history = prepare_history(generate(GeneratorConfig(days=6, cards=150, seed=3)), 7.0)
    store = ReplayStore(history.tx, history.label_known_at, history.frame["is_fraud"].to_numpy())
    whole = store.matrix()
    rows = np.flatnonzero(np.arange(len(whole)) % 3 != 1)[len(whole) // 4 :]
    names = list(FEATURE_NAMES)
    for chunk in (97, 10_000):
        chosen = store.features(names, rows, chunk=chunk)
        for j, name in enumerate(names):
            np.testing.assert_array_equal(chosen[name], whole[rows, j], err_msg=name)
