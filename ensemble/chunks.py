"""The replayed feature matrix a chunk of rows at a time, for the steps that read many rows
in order: XGBoost's quantized training matrix and scoring a whole history.

A history's float32 matrix is about 0.93 KB per row (233 features), and XGBoost's
quantized copy of the training rows 2.5 KB per row on top of it: holding both was most
of `fraud train`'s peak. Here XGBoost reads the training rows through a DataIter, one
chunk computed by the kernel at a time (a QuantileDMatrix from an iterator: the same
quantile cuts and the same quantized rows as from the whole matrix, so the same trees),
and scoring keeps the scores, not the rows. A chunk of a history in event-time order
costs the kernel its prefix (features/kernel.py), so the chunks together cost little
more than one whole replay.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import xgboost as xgb

from ensemble.bundle import BatchScores, ModelBundle
from ensemble.progress import Advance
from features.definitions import ENTITIES, FEATURE_NAMES
from features.replay import ReplayStore

# 61 MB of float32 rows: the extra memory while XGBoost reads a chunk. Smaller chunks
# cost more kernel calls (each pays its prefix of the history's sort).
CHUNK_ROWS = 65_536
# A QuantileDMatrix reads its iterator this many times (xgboost 3, CPU: the counts of
# present values, the quantile sketch, the row-major index, the column-major one). Only
# the progress bar's total depends on it.
XGBOOST_PASSES = 4


def parts(rows: slice, size: int) -> Iterator[slice]:
    """A contiguous range of rows (start and stop given) as consecutive ranges of `size`."""
    if size < 1:
        raise ValueError("chunks need at least one row")
    for at in range(rows.start, rows.stop, size):
        yield slice(at, min(at + size, rows.stop))


class Parts(xgb.DataIter):
    """Consecutive ranges of rows handed to XGBoost one at a time, each as `load(part)`
    gives it (the keyword arguments of a DataIter's input_data: data, label, names), so
    that a quantized matrix is built without the whole float matrix held at once."""

    def __init__(self, ranges: list[slice], load: Callable[[slice], dict[str, Any]]) -> None:
        self._ranges, self._load = ranges, load
        self._at = 0
        # release_data: XGBoost drops each chunk once it has read it.
        super().__init__(release_data=True)

    def next(self, input_data: Callable[..., Any]) -> bool:
        if self._at == len(self._ranges):
            return False
        part = self._ranges[self._at]
        self._at += 1
        input_data(**self._load(part))
        return True

    def reset(self) -> None:
        self._at = 0


def quantized(
    store: ReplayStore,
    rows: slice,
    labels: np.ndarray,
    threads: int,
    size: int = CHUNK_ROWS,
    advance: Advance | None = None,
) -> xgb.QuantileDMatrix:
    """The training rows `rows` (contiguous) as the quantized matrix `hist` trains on, built
    from chunks of `size` rows; `labels` of the whole history. `advance` is told the rows
    each entity's pass of the kernel did: len(rows) * len(ENTITIES) * XGBOOST_PASSES."""
    tell = advance or (lambda _n: None)
    names = list(FEATURE_NAMES)

    def load(part: slice) -> dict[str, Any]:
        return {
            "data": store.matrix(tell, rows=part),
            "label": labels[part],
            "feature_names": names,
        }

    return xgb.QuantileDMatrix(
        Parts(list(parts(rows, size)), load), missing=np.nan, nthread=threads
    )


def scores(
    bundle: ModelBundle,
    store: ReplayStore,
    rows: slice,
    size: int = CHUNK_ROWS,
    advance: Advance | None = None,
) -> BatchScores:
    """The bundle's scores of rows `rows` (contiguous), replayed and scored a chunk at a
    time (scoring is row by row: the same scores as of the whole matrix). `advance`: the
    rows of each entity's pass, len(rows) * len(ENTITIES) in all."""
    scored = [bundle.score(store.matrix(advance, rows=part)) for part in parts(rows, size)]
    if not scored:
        return bundle.score(np.empty((0, len(FEATURE_NAMES)), dtype=np.float32))
    return BatchScores(
        score=np.concatenate([s.score for s in scored]),
        xgboost=np.concatenate([s.xgboost for s in scored]),
        isolation_forest=np.concatenate([s.isolation_forest for s in scored]),
        risk_tier=np.concatenate([s.risk_tier for s in scored]),
    )


def replay_total(rows: slice) -> int:
    """What a replay of `rows` tells its progress: each row once per entity."""
    return (rows.stop - rows.start) * len(ENTITIES)
