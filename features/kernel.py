"""The feature kernel's typed surface: every feature column of a batch (online) or of a
replayed history, computed by one native implementation (native/, Rust) straight into the
models' float32 matrix. Python only marshals: requests into tuples, the store's replies
as they came (members as bytes, parsed by the kernel through window_format's layout).

features/compute.py is the slow, obvious numpy reference the kernel is tested against
(tests/unit/features/test_kernel.py); it is not a second path in production.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import fraud_kernel
import numpy as np

from features.batch import TransactionBatch
from features.definitions import (
    DISTINCT_OF,
    DISTINCT_WINDOWS,
    ENTITIES,
    FEATURE_NAMES,
    FIRST_USE_OF,
    HISTORY_MS,
    LABEL_HORIZONS,
    LABEL_WINDOW_MS,
    LABELLED_ENTITIES,
    MAX_EVENTS,
    MAX_LABELS,
    PROFILE_DAYS,
    PROFILED_ENTITIES,
    SMALL_AMOUNT,
    WINDOWS,
)
from features.window_format import CATEGORICAL, MEMBER_DTYPES, WindowRead

# What the kernel's compiled constants must equal (fraud_kernel.constants()).
DEFINITIONS: dict[str, object] = {
    "ENTITIES": list(ENTITIES),
    "CATEGORICAL": list(CATEGORICAL),
    "WINDOWS": list(WINDOWS.items()),
    "DISTINCT_WINDOWS": list(DISTINCT_WINDOWS),
    "HISTORY_MS": HISTORY_MS,
    "MAX_EVENTS": MAX_EVENTS,
    "LABEL_WINDOW_MS": LABEL_WINDOW_MS,
    "MAX_LABELS": MAX_LABELS,
    "SMALL_AMOUNT": SMALL_AMOUNT,
    "DISTINCT_OF": [(e, list(a)) for e, a in DISTINCT_OF.items()],
    "FIRST_USE_OF": [(e, list(a)) for e, a in FIRST_USE_OF.items()],
    "LABELLED_ENTITIES": list(LABELLED_ENTITIES),
    "LABEL_HORIZONS": list(LABEL_HORIZONS.items()),
    "PROFILE_DAYS": list(PROFILE_DAYS.items()),
}


def member_layouts() -> dict[str, dict[str, int]]:
    """window_format's member records as the kernel reads them: size and field offsets."""
    return {
        entity: {"size": dtype.itemsize} | {name: dtype.fields[name][1] for name in dtype.names}
        for entity, dtype in MEMBER_DTYPES.items()
        if dtype.names is not None and dtype.fields is not None
    }


def _check_constants() -> None:
    normal = {k: _plain(v) for k, v in fraud_kernel.constants().items()}
    expected = {k: _plain(v) for k, v in DEFINITIONS.items()}
    if normal != expected:
        drift = sorted(
            k for k in expected.keys() | normal.keys() if normal.get(k) != expected.get(k)
        )
        raise RuntimeError(
            f"the feature kernel was built for other definitions ({', '.join(drift)} differ from "
            "features/definitions.py): rebuild it with `make install`"
        )


def _plain(value: object) -> object:
    """Tuples as lists, recursively, so both sides compare by value."""
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


_check_constants()
KERNEL = fraud_kernel.FeatureKernel(list(FEATURE_NAMES), member_layouts())
Progress = Callable[[int], None]


def request_tuple(
    ts: int,
    offset_minutes: int,
    amount: float,
    channel: int,
    mcc_risk: float,
    mcc_cash_like: bool,
    codes: Sequence[int],
    latitude: float | None,
    longitude: float | None,
) -> tuple[object, ...]:
    """One request as the kernel reads it (native/src/lib.rs, request_of): a TransactionBatch
    row; `codes` in CATEGORICAL order, -1 where absent; None or NaN for no location."""
    return (
        ts,
        offset_minutes,
        float(amount),
        channel,
        mcc_risk,
        mcc_cash_like,
        *codes,
        latitude,
        longitude,
    )


def online_matrix(
    requests: Sequence[tuple[object, ...]], reads: Sequence[WindowRead]
) -> np.ndarray:
    """Feature rows of requests (request_tuple) and their store reads, one read each."""
    matrix: np.ndarray = KERNEL.online_matrix(
        requests,
        [r.members[e] for r in reads for e in ENTITIES],
        [r.label_scores[e] for r in reads for e in LABELLED_ENTITIES],
        [r.profiles[e] for r in reads for e in PROFILED_ENTITIES],
    )
    return matrix


def request_matrix(requests: Sequence[tuple[object, ...]]) -> np.ndarray:
    """Degraded mode: the request-only features, the rest missing."""
    matrix: np.ndarray = KERNEL.request_matrix(requests)
    return matrix


def replay_matrix(
    tx: TransactionBatch,
    label_known_at: np.ndarray | None,
    fraud: np.ndarray | None,
    rows: slice = slice(None),
    progress: Progress | None = None,
    names: Sequence[str] | None = None,
) -> np.ndarray:
    """Feature rows `rows` (a step-1 slice) of a history, every row's windows, labels and
    profiles taken from the whole history (features/replay.py states the semantics); the
    features `names` only, in that order, where given (default: the model's matrix)."""
    start, stop, step = rows.indices(len(tx))
    if step != 1:
        raise ValueError("rows must be a contiguous range")
    unknown = sorted(set(names or ()) - set(FEATURE_NAMES))
    if unknown:
        raise ValueError(f"no such features: {unknown}")
    labels = None if label_known_at is None or fraud is None else (label_known_at, fraud)
    stop = max(start, stop)
    end = _end_of_relevant_history(tx.ts, labels, start, stop)
    matrix: np.ndarray = KERNEL.replay_matrix(
        ts=_column(tx.ts[:end], np.int64),
        offset_minutes=_column(tx.offset_minutes[:end], np.int64),
        amount=_column(tx.amount[:end], np.float64),
        channel=_column(tx.channel[:end], np.int64),
        mcc_risk=_column(tx.mcc_risk[:end], np.float64),
        mcc_cash_like=_column(tx.mcc_cash_like[:end], np.float64),
        codes=[_column(tx.code(name)[:end], np.int64) for name in CATEGORICAL],
        latitude=_column(tx.latitude[:end], np.float64),
        longitude=_column(tx.longitude[:end], np.float64),
        label_known_at=None if labels is None else _column(labels[0][:end], np.int64),
        fraud=None if labels is None else _column(labels[1][:end], np.bool_),
        start=start,
        stop=stop,
        columns=None if names is None else [FEATURE_NAMES.index(n) for n in names],
        progress=progress,
    )
    return matrix


def _end_of_relevant_history(
    ts: np.ndarray, labels: tuple[np.ndarray, np.ndarray] | None, start: int, stop: int
) -> int:
    """How much of the history rows [start, stop) can see: `stop` where every later row
    happened, and every later fraud's label became known, no earlier than the range's
    latest transaction (a row sees only the past: windows end before its own time,
    profiles at its own day, labels at its own time), else all of it. On a history in
    event-time order (the replay's) a range then costs its prefix, not the whole history:
    what makes computing a matrix in chunks cheap."""
    if stop in (start, len(ts)):
        return stop
    latest = ts[start:stop].max()
    if ts[stop:].min() < latest:
        return len(ts)
    if labels is not None:
        known_at, fraud = labels
        later = known_at[stop:][np.asarray(fraud[stop:], dtype=bool)]
        if len(later) and later.min() < latest:
            return len(ts)
    return stop


def _column(values: np.ndarray | None, dtype: type[np.generic]) -> np.ndarray:
    return np.ascontiguousarray(values, dtype=dtype)
