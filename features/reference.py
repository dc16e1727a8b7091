"""The numpy reference of the online feature path: what features.online computes by the
native kernel, computed the slow, obvious way (the store's replies parsed into padded
windows by window_format, then features/compute.py). Used by the kernel's tests and
benchmarks only; the replay's reference is features.replay.ReplayStore.columns."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from features.batch import CHANNEL_CODES, TransactionBatch
from features.compute import compute_all, feature_matrix, request_features
from features.definitions import ENTITIES, FEATURE_NAMES, LABELLED_ENTITIES, PROFILED_ENTITIES
from features.mcc import CASH_LIKE, mcc_risk
from features.online import OnlineTransaction
from features.window_format import (
    CATEGORICAL,
    WindowRead,
    label_times,
    profile_totals,
    windows_from_members,
)


def transaction_batch(txs: Sequence[OnlineTransaction]) -> TransactionBatch:
    events = [t.event for t in txs]
    codes = np.array([[e.codes[name] for e in events] for name in CATEGORICAL], dtype=np.int64)
    return TransactionBatch(
        ts=np.array([e.ts for e in events], dtype=np.int64),
        offset_minutes=np.array([t.offset_minutes for t in txs], dtype=np.int64),
        amount=np.array([e.amount for e in events], dtype=np.float64),
        channel=np.array([CHANNEL_CODES[t.channel] for t in txs], dtype=np.int64),
        mcc_risk=np.array([mcc_risk(t.merchant_category) for t in txs], dtype=np.float64),
        mcc_cash_like=np.array([t.merchant_category in CASH_LIKE for t in txs], dtype=np.float64),
        codes=dict(zip(CATEGORICAL, codes, strict=True)),
        latitude=np.array(
            [np.nan if e.latitude is None else e.latitude for e in events], dtype=np.float64
        ),
        longitude=np.array(
            [np.nan if e.longitude is None else e.longitude for e in events], dtype=np.float64
        ),
    )


def batch_matrix(tx: TransactionBatch, reads: Sequence[WindowRead]) -> np.ndarray:
    """Feature rows of a batch and its store reads (one per transaction)."""
    windows = {e: windows_from_members(e, [r.members[e] for r in reads]) for e in ENTITIES}
    labels = {e: label_times([r.label_scores[e] for r in reads]) for e in LABELLED_ENTITIES}
    profiles = {e: profile_totals([r.profiles[e] for r in reads]) for e in PROFILED_ENTITIES}
    return feature_matrix(compute_all(tx, windows, labels, profiles), len(tx))


def online_matrix(txs: Sequence[OnlineTransaction], reads: Sequence[WindowRead]) -> np.ndarray:
    """features.online.online_matrix, by numpy."""
    return batch_matrix(transaction_batch(txs), reads)


def request_matrix(tx: TransactionBatch) -> np.ndarray:
    """Degraded mode (features.online.request_only_matrix): the request's own features, the
    rest missing."""
    columns = request_features(tx)
    out = np.full((len(tx), len(FEATURE_NAMES)), np.nan, dtype=np.float32)
    for j, name in enumerate(FEATURE_NAMES):
        if name in columns:
            out[:, j] = columns[name]
    return out
