"""Fixed bins and the population stability index (PSI), pure numpy: the math of drift,
shared by `fraud train` (the reference) and the API (the live window).

Each feature's bins: bin 0 holds missing values (NaN); bins 1..E+1 are cut by E interior
edges (the training sample's deciles, deduplicated), a value v going to 1 + #{edges < v}
(bins closed on the right, as the deciles are: a tenth of the sample at or below the first).
Features are laid side by side in tables of one width (the most bins of any); a feature's
unused bins are empty on both sides and add nothing to the PSI.

PSI = sum over bins of (a - e) * ln(a / e), with e and a the reference's and the live
window's shares of rows in the bin, each raised to at least EPSILON (an empty bin on one
side only then weighs ln(share / EPSILON) rather than infinity).
"""

from __future__ import annotations

import warnings

import numpy as np

EPSILON = 1e-4
DECILES = 10
SCORE_BINS = 10


def quantile_edges(column: np.ndarray, bins: int = DECILES) -> np.ndarray:
    """The interior edges of `bins` equal-mass bins of the present (non-NaN) values,
    deduplicated (a feature with few distinct values gets fewer bins); none when no value
    is present."""
    present = column[~np.isnan(column)].astype(np.float64)
    if present.size == 0:
        return np.empty(0)
    # Edges are values that occur (inverted CDF, no interpolation): a 0/1 feature is cut at
    # 0 and 1, not at 0.3.
    return np.unique(np.quantile(present, np.arange(1, bins) / bins, method="inverted_cdf"))


def score_edges(bins: int = SCORE_BINS) -> np.ndarray:
    """Interior edges of fixed-width bins on [0, 1] (the score is never missing)."""
    return np.arange(1, bins) / bins


class BinLayout:
    """Several features' bins side by side: `counts(columns)` bins a (rows, features) block
    into a (features, width) table of counts, each feature by its own edges."""

    def __init__(self, edges: list[np.ndarray]) -> None:
        self.features = len(edges)
        self._edges = [np.asarray(e, dtype=np.float64) for e in edges]
        self.width = max((len(e) for e in edges), default=0) + 2  # missing, then value bins
        self._offsets = np.arange(self.features) * self.width

    def counts(self, columns: np.ndarray) -> np.ndarray:
        """Counts per bin, (features, width) int64, of a (rows, features) block: one
        searchsorted per feature, one bincount for all (about 2 us per feature, whatever
        the rows: the live window bins hundreds of rows at a time)."""
        index = np.empty(columns.shape, dtype=np.int64)
        for i, edges in enumerate(self._edges):
            # Bins closed on the right: #{edges < v}, shifted past the missing bin.
            index[:, i] = np.searchsorted(edges, columns[:, i], side="left") + 1
        index[np.isnan(columns)] = 0
        index += self._offsets
        flat = np.bincount(index.ravel(), minlength=self.features * self.width)
        return flat.reshape(self.features, self.width)


def shares(counts: np.ndarray) -> np.ndarray:
    """Each row of a counts table divided by its total (a row with no rows stays 0)."""
    counts = np.asarray(counts, dtype=np.float64)
    totals = counts.sum(axis=-1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


def psi(expected: np.ndarray, actual: np.ndarray, epsilon: float = EPSILON) -> np.ndarray:
    """The PSI of each row (a feature) of two count or share tables of one layout; NaN
    where either side has no rows (nothing to compare). A 1-D pair gives a 0-d array."""
    e = np.asarray(expected, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    empty = (e.sum(axis=-1) == 0) | (a.sum(axis=-1) == 0)
    e, a = np.maximum(shares(e), epsilon), np.maximum(shares(a), epsilon)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        value = ((a - e) * np.log(a / e)).sum(axis=-1)
    return np.where(empty, np.nan, value)


def missing_share(counts: np.ndarray) -> np.ndarray:
    """The share of rows in the missing bin (bin 0) of each feature; NaN with no rows."""
    counts = np.asarray(counts, dtype=np.float64)
    totals = counts.sum(axis=-1)
    return np.divide(counts[..., 0], totals, out=np.full(totals.shape, np.nan), where=totals > 0)
