"""Offline replay: the window state of every row of a history, computed in bulk.

The in-memory store sorts each entity's events once, finds each row's window as
a slice [start, start + length) of that order, and hands the feature functions
the same right-aligned EntityWindow the Redis store builds online. Rows are
grouped by window length so short windows are not padded to the longest one.

Semantics (the same online): a row sees the latest MAX_EVENTS events of its
entity with t - 7d <= ts < t. Events with the same timestamp do not see each
other, so the result does not depend on the order of simultaneous rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from features.batch import PAD_TS, EntityWindow, TransactionBatch
from features.compute import (
    Columns,
    amount_cents,
    amount_squares,
    entity_features,
    feature_matrix,
    label_features,
    profiles_features,
    request_features,
)
from features.definitions import (
    DAY_MS,
    ENTITIES,
    HISTORY_MS,
    LABEL_WINDOW_MS,
    LABELLED_ENTITIES,
    MAX_EVENTS,
    MAX_LABELS,
    PROFILE_DAYS,
    PROFILED_ENTITIES,
    WINDOW_ATTRIBUTES,
)

TIME_BITS = 37  # 2**37 ms is 4.3 years: the longest history one replay accepts
ELEMENTS_PER_CHUNK = 1 << 19
# Rows whose features ReplayStore.features computes at once (their float64 columns are
# about 19 MB at 10,000 rows, and as much again in temporaries).
CHUNK_ROWS = 10_000
Progress = Callable[[int], None]


@dataclass(slots=True)
class _Slices:
    """Each row's window as a slice of an entity's sorted events."""

    order: np.ndarray  # event row indices sorted by (code, time)
    times: np.ndarray  # event times in that order
    start: np.ndarray  # per row
    length: np.ndarray  # per row


def _slices(
    codes: np.ndarray,
    event_times: np.ndarray,
    row_times: np.ndarray,
    row_codes: np.ndarray,
    span_ms: int,
    cap: int,
    origin: int,
) -> _Slices:
    keep = np.flatnonzero(codes >= 0)
    rel = event_times[keep] - origin
    if len(rel) and (rel.max() >= 1 << TIME_BITS or rel.min() < 0):
        raise ValueError("history spans more than 4 years; replay it in parts")
    keys = (codes[keep] << TIME_BITS) | rel
    order_in_keep = np.argsort(keys, kind="stable")
    keys = keys[order_in_keep]
    order = keep[order_in_keep]
    safe = np.maximum(row_codes, 0) << TIME_BITS
    hi = np.searchsorted(keys, safe | np.clip(row_times - origin, 0, None), side="left")
    lo = np.searchsorted(keys, safe | np.clip(row_times - span_ms - origin, 0, None), side="left")
    length = np.where(row_codes >= 0, np.minimum(hi - lo, cap), 0)
    return _Slices(order=order, times=event_times[order], start=hi - length, length=length)


def _gather(
    values: np.ndarray,
    start: np.ndarray,
    length: np.ndarray,
    width: int,
    pad: float | int | np.integer,
) -> np.ndarray:
    position = np.arange(width)[None, :] - (width - length)[:, None]
    inside = position >= 0
    if len(values) == 0:
        return np.full(position.shape, pad, dtype=values.dtype)
    out = values[np.where(inside, start[:, None] + position, 0)]
    out[~inside] = pad
    return out


def _buckets(length: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """Row groups of similar window length: (padded width, row indices), in chunks."""
    width = np.maximum(1, 1 << np.ceil(np.log2(np.maximum(length, 1))).astype(np.int64))
    out: list[tuple[int, np.ndarray]] = []
    for w in np.unique(width):
        rows = np.flatnonzero(width == w)
        step = max(1, ELEMENTS_PER_CHUNK // int(w))
        out += [(int(w), rows[i : i + step]) for i in range(0, len(rows), step)]
    return out


DAY_BITS = 20  # days since the history's first, with room for the longest profile before it


def profile_sums(codes: np.ndarray, ts: np.ndarray, amount: np.ndarray) -> np.ndarray:
    """Per row, the entity's totals over the complete UTC days before the row's own day
    (PROFILE_SUMS columns), from every row of the history whatever its order: what the
    per-day Redis hashes hold when the history is replayed in event-time order. Integer
    prefix sums, so the totals are exact in any order."""
    n = len(codes)
    out = np.zeros((n, len(PROFILE_DAYS) + 2), dtype=np.int64)
    if n == 0:
        return out
    longest = max(PROFILE_DAYS.values())
    day = np.floor_divide(ts, DAY_MS)
    rel = day - int(day.min()) + longest + 1
    if rel.max() >= 1 << DAY_BITS:
        raise ValueError("history spans too many days for one replay; replay it in parts")
    keep = np.flatnonzero(codes >= 0)
    keys = (codes[keep] << DAY_BITS) | rel[keep]
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    prefix = [
        np.concatenate([[0], np.cumsum(values[keep][order])])
        for values in (np.ones(n, dtype=np.int64), amount_cents(amount), amount_squares(amount))
    ]
    mine = np.maximum(codes, 0) << DAY_BITS
    hi = np.searchsorted(keys, mine | rel, side="left")
    present = codes >= 0
    for j, days in enumerate(PROFILE_DAYS.values()):
        lo = np.searchsorted(keys, mine | (rel - days), side="left")
        out[:, j] = np.where(present, prefix[0][hi] - prefix[0][lo], 0)
    lo = np.searchsorted(keys, mine | (rel - longest), side="left")
    out[:, -2] = np.where(present, prefix[1][hi] - prefix[1][lo], 0)
    out[:, -1] = np.where(present, prefix[2][hi] - prefix[2][lo], 0)
    return out


def _subset(tx: TransactionBatch, rows: np.ndarray) -> TransactionBatch:
    return TransactionBatch(
        ts=tx.ts[rows],
        offset_minutes=tx.offset_minutes[rows],
        amount=tx.amount[rows],
        channel=tx.channel[rows],
        mcc_risk=tx.mcc_risk[rows],
        mcc_cash_like=tx.mcc_cash_like[rows],
        codes={k: v[rows] for k, v in tx.codes.items()},
        latitude=tx.latitude[rows],
        longitude=tx.longitude[rows],
    )


class ReplayStore:
    """In-memory window state of a whole history, for training and evaluation."""

    def __init__(
        self, tx: TransactionBatch, label_known_at: np.ndarray | None, fraud: np.ndarray | None
    ) -> None:
        self.tx = tx
        origin = int(tx.ts.min()) - LABEL_WINDOW_MS if len(tx) else 0
        self._events = {
            e: _slices(tx.code(e), tx.ts, tx.ts, tx.code(e), HISTORY_MS, MAX_EVENTS, origin)
            for e in ENTITIES
        }
        self._ordered_cache: dict[str, dict[str, np.ndarray]] = {}
        self.profiles = {e: profile_sums(tx.code(e), tx.ts, tx.amount) for e in PROFILED_ENTITIES}
        self._labels: dict[str, _Slices] = {}
        for e in LABELLED_ENTITIES:
            codes = tx.code(e)
            if label_known_at is not None and fraud is not None:
                codes = np.where(fraud.astype(bool), codes, -1)
                times = label_known_at
            else:
                codes, times = np.full(len(tx), -1, np.int64), tx.ts
            self._labels[e] = _slices(
                codes, times, tx.ts, tx.code(e), LABEL_WINDOW_MS, MAX_LABELS, origin
            )

    def window(self, entity: str, rows: np.ndarray, width: int | None = None) -> EntityWindow:
        s = self._events[entity]
        start, length = s.start[rows], s.length[rows]
        width = width or max(1, int(length.max(initial=0)))
        ordered = self._ordered(entity)
        located = entity == "card"
        return EntityWindow(
            ts=_gather(s.times, start, length, width, PAD_TS),
            amount=_gather(ordered["amount"], start, length, width, 0.0),
            attributes={
                a: _gather(ordered[a], start, length, width, -1) for a in WINDOW_ATTRIBUTES[entity]
            },
            latitude=_gather(ordered["latitude"], start, length, width, np.nan)
            if located
            else None,
            longitude=_gather(ordered["longitude"], start, length, width, np.nan)
            if located
            else None,
        )

    def _ordered(self, entity: str) -> dict[str, np.ndarray]:
        """The event attributes of an entity in its sorted order, built once."""
        if entity not in self._ordered_cache:
            src = self._events[entity].order
            tx = self.tx
            ordered = {
                "amount": tx.amount[src],
                "latitude": tx.latitude[src],
                "longitude": tx.longitude[src],
            }
            ordered |= {a: tx.code(a)[src] for a in WINDOW_ATTRIBUTES[entity]}
            self._ordered_cache[entity] = ordered
        return self._ordered_cache[entity]

    def label_window(self, entity: str, rows: np.ndarray) -> np.ndarray:
        s = self._labels[entity]
        start, length = s.start[rows], s.length[rows]
        return _gather(s.times, start, length, max(1, int(length.max(initial=0))), PAD_TS)

    def columns(self, progress: Progress | None = None, rows: np.ndarray | None = None) -> Columns:
        """Every feature of every row, by name; of `rows` only (indices, in their order)
        when given: the others are then only the history those rows' windows read."""
        tx = self.tx if rows is None else _subset(self.tx, rows)
        n = len(tx)

        def chosen(group: np.ndarray) -> np.ndarray:  # positions in `rows` -> row indices
            return group if rows is None else rows[group]

        def of_rows(of: np.ndarray) -> np.ndarray:
            return of if rows is None else of[rows]

        out: Columns = dict(request_features(tx))
        for entity in ENTITIES:
            for width, group in _buckets(of_rows(self._events[entity].length)):
                part = entity_features(
                    entity, self.window(entity, chosen(group), width), _subset(tx, group)
                )
                for name, values in part.items():
                    out.setdefault(name, np.empty(n))[group] = values
                if progress:
                    progress(len(group))
        for entity in PROFILED_ENTITIES:  # one at a time: a whole history's rows are many
            out |= profiles_features({entity: of_rows(self.profiles[entity])}, tx)
        for entity in LABELLED_ENTITIES:
            for _, group in _buckets(of_rows(self._labels[entity].length)):
                part = label_features(
                    entity,
                    self.label_window(entity, chosen(group)),
                    _subset(tx, group),
                    self.profiles[entity][chosen(group)],
                )
                for name, values in part.items():
                    out.setdefault(name, np.empty(n))[group] = values
        return out

    def matrix(self, progress: Progress | None = None) -> np.ndarray:
        return feature_matrix(self.columns(progress), len(self.tx))

    def features(
        self, names: Iterable[str], rows: np.ndarray, chunk: int = CHUNK_ROWS
    ) -> dict[str, np.ndarray]:
        """The named features of `rows` (float32, as the matrix holds them), computed
        `chunk` rows at a time: what one call holds beyond the store itself is the chunk's
        columns and the named features' arrays, however many rows there are."""
        wanted = list(names)
        out = {name: np.empty(len(rows), dtype=np.float32) for name in wanted}
        for first in range(0, len(rows), chunk):
            part = self.columns(rows=rows[first : first + chunk])
            for name in wanted:
                out[name][first : first + chunk] = part[name]
        return out
