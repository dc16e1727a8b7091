"""The columnar inputs of the feature functions: a batch of transactions and,
per entity, the window of each transaction's earlier events.

Both are plain arrays so one definition serves a single online request (N = 1)
and a replay of millions of rows. Categorical values are integer codes that
only need to be consistent within one batch (equality is all that is used).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Left padding of window rows; far below any real event time and safe to subtract from.
PAD_TS = np.int64(-(2**62))
CHANNEL_CODES: dict[str, int] = {"pos": 0, "ecommerce": 1, "atm": 2}


@dataclass(slots=True)
class TransactionBatch:
    """N transactions. Codes are -1 where the field is absent."""

    ts: np.ndarray  # int64 UTC epoch milliseconds (event time)
    offset_minutes: np.ndarray  # int64, the timestamp's own UTC offset
    amount: np.ndarray  # float64
    channel: np.ndarray  # int64, CHANNEL_CODES
    mcc_risk: np.ndarray  # float64
    mcc_cash_like: np.ndarray  # float64 0/1
    codes: dict[str, np.ndarray]  # entity or attribute name -> int64 codes
    latitude: np.ndarray  # float64, NaN if absent
    longitude: np.ndarray

    def __len__(self) -> int:
        return len(self.ts)

    def code(self, name: str) -> np.ndarray:
        return self.codes[name]

    def subset(self, rows: np.ndarray | slice) -> TransactionBatch:
        """The transactions `rows` (index arrays copy, slices are views); the codes keep
        their meaning."""
        return TransactionBatch(
            ts=self.ts[rows],
            offset_minutes=self.offset_minutes[rows],
            amount=self.amount[rows],
            channel=self.channel[rows],
            mcc_risk=self.mcc_risk[rows],
            mcc_cash_like=self.mcc_cash_like[rows],
            codes={k: v[rows] for k, v in self.codes.items()},
            latitude=self.latitude[rows],
            longitude=self.longitude[rows],
        )


@dataclass(slots=True)
class EntityWindow:
    """For each of N transactions, its entity's earlier events in time order.

    Row i holds at most K events, right-aligned: padding (ts == PAD_TS) comes
    first, the latest event is in the last column.
    """

    ts: np.ndarray  # (N, K) int64
    amount: np.ndarray  # (N, K) float64, 0 in padding
    attributes: dict[str, np.ndarray] = field(
        default_factory=dict
    )  # (N, K) int64 codes, -1 in padding
    latitude: np.ndarray | None = None  # (N, K) float64, NaN in padding (card only)
    longitude: np.ndarray | None = None

    @property
    def width(self) -> int:
        return int(self.ts.shape[1])


def empty_window(n: int, attributes: tuple[str, ...], located: bool) -> EntityWindow:
    """A window with no events (new entity, or the store is unavailable)."""
    return EntityWindow(
        ts=np.full((n, 1), PAD_TS, np.int64),
        amount=np.zeros((n, 1)),
        attributes={a: np.full((n, 1), -1, np.int64) for a in attributes},
        latitude=np.full((n, 1), np.nan) if located else None,
        longitude=np.full((n, 1), np.nan) if located else None,
    )
