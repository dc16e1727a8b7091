"""The online side of the one feature implementation: requests plus the windows read from
the store become one call of the native kernel (features/kernel.py), which the replay
calls too."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from features import kernel
from features.batch import CHANNEL_CODES
from features.mcc import CASH_LIKE, mcc_risk
from features.window_format import CATEGORICAL, Event, WindowRead


@dataclass(frozen=True, slots=True)
class OnlineTransaction:
    event: Event
    offset_minutes: int
    channel: str
    merchant_category: str


def _request(t: OnlineTransaction) -> tuple[object, ...]:
    e = t.event
    codes = e.codes
    return kernel.request_tuple(
        e.ts,
        t.offset_minutes,
        e.amount,
        CHANNEL_CODES[t.channel],
        mcc_risk(t.merchant_category),
        t.merchant_category in CASH_LIKE,
        [codes[name] for name in CATEGORICAL],
        e.latitude,
        e.longitude,
    )


def online_matrix(txs: Sequence[OnlineTransaction], reads: Sequence[WindowRead]) -> np.ndarray:
    """Feature rows for requests whose windows were read from the store (one read per request)."""
    return kernel.online_matrix([_request(t) for t in txs], reads)


def request_only_matrix(txs: Sequence[OnlineTransaction]) -> np.ndarray:
    """Degraded mode: only the features the request itself supports; the rest are missing."""
    return kernel.request_matrix([_request(t) for t in txs])
