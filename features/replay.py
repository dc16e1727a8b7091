"""Offline replay: the features of every row of a history.

`ReplayStore.matrix` is the native kernel's replay (features/kernel.py): per entity over
its sorted history, the same per-row implementation the online path calls. The rest of
this module is the numpy reference it is tested against (`columns`): it sorts each
entity's events once, finds each row's window as a slice [start, start + length) of that
order, and hands features/compute.py the right-aligned EntityWindow the Redis store's
replies become. Rows are grouped by window length so short windows are not padded to the
longest one.

Semantics (the same online): a row sees the latest MAX_EVENTS events of its
entity with t - 7d <= ts < t. Events with the same timestamp do not see each
other, so the result does not depend on the order of simultaneous rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from features import kernel
from features.batch import PAD_TS, EntityWindow, TransactionBatch
from features.compute import (
    Columns,
    amount_cents,
    amount_squares,
    entity_features,
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


class ReplayStore:
    """A whole history, for training and evaluation: `matrix` is the native replay; the
    window state (`window`, `label_window`, `profiles`, `columns`) is the numpy reference's,
    built on first use."""

    def __init__(
        self, tx: TransactionBatch, label_known_at: np.ndarray | None, fraud: np.ndarray | None
    ) -> None:
        self.tx = tx
        self.label_known_at = label_known_at
        self.fraud = fraud
        self._ordered_cache: dict[str, dict[str, np.ndarray]] = {}

    @cached_property
    def _origin(self) -> int:
        return int(self.tx.ts.min()) - LABEL_WINDOW_MS if len(self.tx) else 0

    @cached_property
    def _events(self) -> dict[str, _Slices]:
        tx = self.tx
        return {
            e: _slices(tx.code(e), tx.ts, tx.ts, tx.code(e), HISTORY_MS, MAX_EVENTS, self._origin)
            for e in ENTITIES
        }

    @cached_property
    def profiles(self) -> dict[str, np.ndarray]:
        tx = self.tx
        return {e: profile_sums(tx.code(e), tx.ts, tx.amount) for e in PROFILED_ENTITIES}

    @cached_property
    def _labels(self) -> dict[str, _Slices]:
        tx, fraud = self.tx, self.fraud
        out: dict[str, _Slices] = {}
        for e in LABELLED_ENTITIES:
            codes = tx.code(e)
            if self.label_known_at is not None and fraud is not None:
                codes = np.where(fraud.astype(bool), codes, -1)
                times = self.label_known_at
            else:
                codes, times = np.full(len(tx), -1, np.int64), tx.ts
            out[e] = _slices(
                codes, times, tx.ts, tx.code(e), LABEL_WINDOW_MS, MAX_LABELS, self._origin
            )
        return out

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

    def columns(self, progress: Progress | None = None) -> Columns:
        """Every feature of every row, by name: the numpy reference of `matrix`."""
        n = len(self.tx)
        out: Columns = dict(request_features(self.tx))
        for entity in ENTITIES:
            for width, rows in _buckets(self._events[entity].length):
                part = entity_features(
                    entity, self.window(entity, rows, width), self.tx.subset(rows)
                )
                for name, values in part.items():
                    out.setdefault(name, np.empty(n))[rows] = values
                if progress:
                    progress(len(rows))
        for entity in PROFILED_ENTITIES:  # one at a time: a whole history's rows are many
            out |= profiles_features({entity: self.profiles[entity]}, self.tx)
        for entity in LABELLED_ENTITIES:
            for _, rows in _buckets(self._labels[entity].length):
                part = label_features(
                    entity,
                    self.label_window(entity, rows),
                    self.tx.subset(rows),
                    self.profiles[entity][rows],
                )
                for name, values in part.items():
                    out.setdefault(name, np.empty(n))[rows] = values
        return out

    def matrix(
        self,
        progress: Progress | None = None,
        rows: slice = slice(None),
        names: Sequence[str] | None = None,
    ) -> np.ndarray:
        """The model's float32 matrix of rows `rows` (contiguous; every row's windows come
        from the whole history), by the native kernel; of the features `names` only, in that
        order, where given. `progress` is told the rows each entity's pass did, as `columns`
        tells it."""
        return kernel.replay_matrix(self.tx, self.label_known_at, self.fraud, rows, progress, names)
