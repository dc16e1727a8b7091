"""A probe batch every rule is evaluated on before it is accepted: rows with missing, zero,
huge and ordinary values of every name a condition may read, so a condition that compiles
but cannot be evaluated (an error at run time) is refused when it is written, not found
by the first transaction it meets."""

from __future__ import annotations

import numpy as np

from controls.columns import Columns
from controls.expression import Condition
from controls.names import NUMBER_FIELDS, STRING_FIELDS
from features.definitions import FEATURE_NAMES
from vocabulary import TIERS

# One row per kind of value: missing, zero, negative, huge, ordinary.
_NUMBERS = (np.nan, 0.0, -1.0, 1e30, 249.99)
_STRINGS = (None, "", "x", "Ü" * 128, "EUR")


def probe_batch() -> Columns:
    """A fresh batch (a batch caches what its rules computed, so each probe needs its own)."""
    rows = len(_NUMBERS)
    matrix = np.array([[value] * len(FEATURE_NAMES) for value in _NUMBERS], dtype=np.float32)
    fields = [
        {name: _NUMBERS[j] for name in NUMBER_FIELDS}
        | {name: _STRINGS[j] for name in STRING_FIELDS}
        for j in range(rows)
    ]
    tiers = np.array([TIERS[j % len(TIERS)] for j in range(rows)], dtype=object)
    outputs = np.array([0.0, 0.0, 0.5, 1.0, 0.97])
    return Columns.for_batch(matrix, fields, outputs, tiers, outputs, outputs)


def probe(condition: Condition) -> None:
    """Evaluate `condition` on the probe batch: whatever it raises, raised here."""
    condition.evaluate(probe_batch())
