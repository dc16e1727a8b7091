"""A batch as the rule conditions read it: arrays by name, built lazily (only the names some
rule uses) and once per batch, with the values rules share computed once."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from controls.names import FIELDS, RISK_TIER, STRING_FIELDS
from features.definitions import FEATURE_NAMES
from vocabulary import TIERS

_FEATURE_INDEX = {name: j for j, name in enumerate(FEATURE_NAMES)}
_TIER_RANK = {tier: float(rank) for rank, tier in enumerate(TIERS)}
_STRING_FIELDS = frozenset(STRING_FIELDS)
_FIELDS = frozenset(FIELDS)


def tier_ranks(risk_tier: np.ndarray | Sequence[object]) -> np.ndarray:
    """Tier names as their rank in TIERS (low 0 ... critical 3), NaN where not a tier."""
    return np.fromiter(
        (_TIER_RANK.get(t, np.nan) for t in risk_tier),  # type: ignore[arg-type]
        dtype=np.float64,
        count=len(risk_tier),
    )


class Columns:
    """The arrays rule conditions read, one value per row: features (float32, NaN where
    missing), request fields (numbers as float64 with NaN, strings as objects with None
    where absent), `score` and the components (float64), `risk_tier` as its tier's rank."""

    __slots__ = ("_arrays", "_cache", "_fields", "_matrix", "_tiers", "rows")

    def __init__(
        self,
        rows: int,
        matrix: np.ndarray | None = None,
        fields: Sequence[Mapping[str, object]] | None = None,
        arrays: Mapping[str, np.ndarray] | None = None,
        risk_tier: np.ndarray | Sequence[object] | None = None,
    ) -> None:
        """`arrays` holds what is already an array (fields, score, ranks); the others are
        read from `matrix` (features), `fields` (one dict per row) or `risk_tier` (tier
        names) when first named."""
        self.rows = rows
        self._matrix = matrix
        self._fields = fields
        self._arrays: dict[str, np.ndarray] = dict(arrays or {})
        self._cache: dict[str, Any] = {}
        self._tiers = risk_tier

    @classmethod
    def for_batch(
        cls,
        matrix: np.ndarray,
        fields: Sequence[Mapping[str, object]],
        score: np.ndarray,
        risk_tier: np.ndarray,
        xgboost: np.ndarray,
        isolation_forest: np.ndarray,
    ) -> Columns:
        """A scored batch: its feature matrix (rows x FEATURE_NAMES), each row's request
        fields, and the model's outputs."""
        arrays = {
            "score": score,
            "xgboost": xgboost,
            "isolation_forest": isolation_forest,
        }
        return cls(len(fields), matrix, fields, arrays, risk_tier)

    def column(self, name: str) -> np.ndarray:
        """The array of `name` (one of controls.names.TYPES), built on first use."""
        got = self._arrays.get(name)
        if got is None:
            got = self._arrays[name] = self._build(name)
        return got

    def cached(self, key: str, compute: Callable[[Columns], Any]) -> Any:
        """compute(self) once per batch for every condition sharing `key`."""
        try:
            return self._cache[key]
        except KeyError:
            value = self._cache[key] = compute(self)
            return value

    def _build(self, name: str) -> np.ndarray:
        if name == RISK_TIER and self._tiers is not None:
            return tier_ranks(self._tiers)
        if name in _FIELDS and self._fields is not None:
            values = [f.get(name) for f in self._fields]
            if name in _STRING_FIELDS:
                out = np.empty(self.rows, dtype=object)
                out[:] = values
                return out
            return np.array(values, dtype=np.float64)  # None becomes NaN
        if name in _FEATURE_INDEX and self._matrix is not None:
            return self._matrix[:, _FEATURE_INDEX[name]]
        raise KeyError(f"this batch has no column {name!r}")
