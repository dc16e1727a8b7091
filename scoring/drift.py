"""The live side of drift: recent traffic binned like the bundle's reference, by time.

The window is the last `window_s` seconds in `buckets` fixed sub-buckets (default: an hour
in twelve 5-minute buckets), a ring of count tables. By time rather than by count: an
alert then means "the last hour differs from training" whatever the traffic, and the
window forgets a finished incident at a known pace; the price is a noisy PSI when little
traffic arrives (hence `min_rows`).

A computed batch costs the request path one list append: its matrix (all features) and
scores are held, and binned together in a few numpy calls once FLUSH_ROWS rows are held,
when the time bucket changes, or when figures are asked for. Binning each batch at once
cost about 45 us at batch 1 (a dozen numpy calls whatever the rows), a fixed cost the
quiet hours would pay on every request.

The figures (PSI per feature and of the score, missing shares) are computed from the
summed ring when asked for (a /metrics scrape, GET /v1/model/drift), off the request path.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ensemble.drift_reference import DriftReference
from ensemble.psi import missing_share, psi
from features.definitions import FEATURE_NAMES

FLUSH_ROWS = 256  # rows held before they are binned (at most this and one batch)


@dataclass(frozen=True, slots=True)
class DriftConfig:
    """The live window's shape (FRAUD_DRIFT_WINDOW_S, _BUCKETS, _MIN_ROWS)."""

    window_s: float = 3_600.0
    buckets: int = 12
    min_rows: int = 500

    def window(self, reference: DriftReference) -> DriftWindow:
        return DriftWindow(reference, self.window_s, self.buckets, self.min_rows)


@dataclass(frozen=True, slots=True)
class DriftFigures:
    features: tuple[str, ...]
    psi: np.ndarray  # per feature; NaN while the window holds fewer than min_rows
    missing_share: np.ndarray  # per feature, live
    reference_missing_share: np.ndarray  # per feature, the reference's
    score_psi: float  # NaN while the window holds fewer than min_rows
    rows: int  # rows in the window
    window_s: float


class DriftWindow:
    def __init__(
        self,
        reference: DriftReference,
        window_s: float,
        buckets: int,
        min_rows: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.reference = reference
        self.window_s = window_s
        self.min_rows = min_rows
        self._bucket_s = window_s / buckets
        self._columns = np.asarray([FEATURE_NAMES.index(f) for f in reference.features])
        self._layout = reference.layout
        self._score_edges = reference.score_edges
        self._features = np.zeros((buckets, *reference.counts.shape), dtype=np.int64)
        self._scores = np.zeros((buckets, len(reference.score_counts)), dtype=np.int64)
        self._slots = np.full(buckets, -1, dtype=np.int64)  # the time slot each bucket holds
        self._clock = clock
        # Batches held until they are binned, all of one time slot.
        self._held: list[tuple[np.ndarray, np.ndarray]] = []
        self._held_rows = 0
        self._held_slot = -1
        # observe() runs on the event loop, figures() in a scrape's worker thread.
        self._lock = threading.Lock()

    def observe(self, matrix: np.ndarray, scores: np.ndarray) -> None:
        """Add a computed batch: its feature matrix (all features, in FEATURE_NAMES order,
        not changed afterwards: it is held, not copied) and its scores."""
        rows = len(matrix)
        if not rows:
            return
        slot = int(self._clock() // self._bucket_s)
        with self._lock:
            if slot != self._held_slot:
                self._bin_held()
                self._held_slot = slot
            self._held.append((matrix, scores))
            self._held_rows += rows
            if self._held_rows >= FLUSH_ROWS:
                self._bin_held()

    def _slot(self) -> int:
        return int(self._clock() // self._bucket_s)

    def _bin_held(self) -> None:
        """The held batches into their slot's bucket (under the lock)."""
        if not self._held:
            return
        if len(self._held) == 1:
            ((matrix, scores),) = self._held
        else:
            matrix = np.concatenate([m for m, _ in self._held])
            scores = np.concatenate([s for _, s in self._held])
        i = self._bucket(self._held_slot)
        self._features[i] += self._layout.counts(matrix[:, self._columns])
        # Score bins closed on the right, as the reference's: #{edges < score}.
        self._scores[i] += np.bincount(
            np.searchsorted(self._score_edges, scores, side="left"),
            minlength=self._scores.shape[1],
        )
        self._held.clear()
        self._held_rows = 0

    def _bucket(self, slot: int) -> int:
        i = slot % len(self._slots)
        if self._slots[i] != slot:  # the ring came round: that bucket's time has passed
            self._features[i] = 0
            self._scores[i] = 0
            self._slots[i] = slot
        return i

    def counts(self) -> tuple[np.ndarray, np.ndarray]:
        """The window's feature and score counts (buckets older than the window left out)."""
        with self._lock:
            self._bin_held()
            slot = self._slot()
            live = (self._slots > slot - len(self._slots)) & (self._slots >= 0)
            return self._features[live].sum(axis=0), self._scores[live].sum(axis=0)

    def figures(self) -> DriftFigures:
        features, scores = self.counts()
        rows = int(scores.sum())
        enough = rows >= max(self.min_rows, 1)
        nan = np.full(len(self._columns), np.nan)
        return DriftFigures(
            features=self.reference.features,
            psi=psi(self.reference.counts, features) if enough else nan,
            missing_share=missing_share(features),
            reference_missing_share=missing_share(self.reference.counts),
            score_psi=float(psi(self.reference.score_counts, scores)) if enough else np.nan,
            rows=rows,
            window_s=self.window_s,
        )
