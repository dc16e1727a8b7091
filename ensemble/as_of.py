"""A labelled history cut at a moment, as deployment sees it: `fraud train --until` trains on
what an export that day would hold, and `fraud evaluate --since` scores only what came
after (docs/model-quality.md, Measure as deployed)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from features.encode import History
from features.schema import LABEL_COLUMN

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class AsOf:
    history: History  # the rows before the moment, labelled as known at the moment
    labels_not_yet_known: int  # frauds before the moment reported at or after it: now 0


def epoch_ms(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)


def shown_ms(ms: int) -> str:
    """An epoch-ms time as RFC 3339 in UTC, as the messages and the manifest show it."""
    return (EPOCH + timedelta(milliseconds=ms)).isoformat().replace("+00:00", "Z")


def _inside(ts: np.ndarray, moment_ms: int, what: str) -> None:
    """ValueError unless the moment falls after the first row and at or before the last,
    so that each side of it holds rows: a moment outside is a mistake, not a choice."""
    if len(ts) == 0:
        raise ValueError(f"{what} {shown_ms(moment_ms)}: the history has no rows")
    first, last = int(ts[0]), int(ts[-1])
    if moment_ms <= first:
        raise ValueError(
            f"{what} {shown_ms(moment_ms)} is not after the history's first transaction "
            f"({shown_ms(first)}): choose a moment between it and {shown_ms(last)}"
        )
    if moment_ms > last:
        raise ValueError(
            f"{what} {shown_ms(moment_ms)} is after the history's last transaction "
            f"({shown_ms(last)}): choose a moment between {shown_ms(first)} and it"
        )


def as_of(history: History, moment_ms: int) -> AsOf:
    """The history as exported at `moment_ms`: rows at or after it are dropped, and a
    fraud whose label became known at or after it (label_known_at: its report, else its
    time plus the label delay) is labelled 0, as unreported frauds are in an export.
    Nothing else changes: the replay already counts a label only once known, so the
    features of the rows kept are those the deployed engine computed. `history` is in
    event-time order (prepare_history) and is not modified."""
    if history.label_known_at is None or LABEL_COLUMN not in history.frame:
        raise ValueError("an as-of history needs labels")
    ts = history.tx.ts
    _inside(ts, moment_ms, "--until")
    n = int(np.searchsorted(ts, moment_ms, side="left"))
    frame = history.frame.iloc[:n].copy()
    known_at = history.label_known_at[:n]
    labels = frame[LABEL_COLUMN].to_numpy(dtype=np.int8, copy=True)
    unknown = (labels == 1) & (known_at >= moment_ms)
    labels[unknown] = 0
    frame[LABEL_COLUMN] = labels
    cut = dataclasses.replace(
        history, frame=frame, tx=history.tx.subset(slice(0, n)), label_known_at=known_at
    )
    return AsOf(cut, int(unknown.sum()))


def rows_since(ts: np.ndarray, moment_ms: int) -> slice:
    """The rows at or after `moment_ms` of a history in event-time order: those deployment
    scores once trained up to then (`fraud evaluate --since`)."""
    _inside(ts, moment_ms, "--since")
    return slice(int(np.searchsorted(ts, moment_ms, side="left")), len(ts))
