"""The online window formats, written down once: Redis keys and the event payload.

Keys (prefix from settings, default "fe"):

    {prefix}:w:{entity}:{value}   sorted set, one member per transaction: the payload
                                  below; score = event time in epoch ms
    {prefix}:l:{entity}:{value}   sorted set of confirmed-fraud labels: member =
                                  transaction id, score = time the label became known
    {prefix}:seen:{txid}          "1" once the transaction is recorded (idempotency)
    {prefix}:d:{txid}             the stored response for a retried transaction id

Payload: the fields below joined by the ASCII unit separator 0x1f, empty for a
missing value. Request validation refuses control characters in every field,
so the separator cannot occur inside one. The transaction id comes first, so a
member names its transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from features.batch import PAD_TS, EntityWindow
from features.definitions import WINDOW_ATTRIBUTES

SEPARATOR = b"\x1f"
PAYLOAD_FIELDS: tuple[str, ...] = (
    "transaction_id",
    "ts",
    "amount",
    "card",
    "account",
    "device",
    "ip",
    "merchant",
    "country",
    "latitude",
    "longitude",
)
_INDEX = {name: i for i, name in enumerate(PAYLOAD_FIELDS)}
CATEGORICAL: tuple[str, ...] = ("card", "account", "device", "ip", "merchant", "country")


@dataclass(frozen=True, slots=True)
class Event:
    """What one transaction contributes to its entities' windows."""

    transaction_id: str
    ts: int
    amount: float
    card: str
    account: str | None
    device: str | None
    ip: str | None
    merchant: str
    country: str | None
    latitude: float | None
    longitude: float | None

    def entity_value(self, entity: str) -> str | None:
        return {
            "card": self.card,
            "account": self.account,
            "device": self.device,
            "ip": self.ip,
            "merchant": self.merchant,
        }[entity]

    def payload(self) -> bytes:
        parts = [
            self.transaction_id,
            str(self.ts),
            repr(float(self.amount)),
            self.card,
            self.account or "",
            self.device or "",
            self.ip or "",
            self.merchant,
            self.country or "",
            "" if self.latitude is None else repr(float(self.latitude)),
            "" if self.longitude is None else repr(float(self.longitude)),
        ]
        return SEPARATOR.join(p.encode() for p in parts)


def window_key(prefix: str, entity: str, value: str) -> str:
    return f"{prefix}:w:{entity}:{value}"


def label_key(prefix: str, entity: str, value: str) -> str:
    return f"{prefix}:l:{entity}:{value}"


def seen_key(prefix: str, transaction_id: str) -> str:
    return f"{prefix}:seen:{transaction_id}"


def decision_key(prefix: str, transaction_id: str) -> str:
    return f"{prefix}:d:{transaction_id}"


class Vocabulary:
    """Integer codes for the strings of one batch (features only compare codes for equality)."""

    def __init__(self) -> None:
        self._codes: dict[str, dict[bytes, int]] = {name: {} for name in CATEGORICAL}

    def code(self, attribute: str, value: bytes | None) -> int:
        if not value:
            return -1
        table = self._codes[attribute]
        return table.setdefault(value, len(table))

    def codes(self, attribute: str, values: Sequence[bytes]) -> np.ndarray:
        table = self._codes[attribute]
        return np.fromiter(
            (table.setdefault(v, len(table)) if v else -1 for v in values),
            dtype=np.int64,
            count=len(values),
        )


def windows_from_members(
    entity: str, members: Sequence[Sequence[bytes]], vocabulary: Vocabulary
) -> EntityWindow:
    """Right-aligned window arrays from each request's members, latest first (ZREVRANGEBYSCORE)."""
    n = len(members)
    lengths = np.fromiter((len(m) for m in members), dtype=np.int64, count=n)
    width = max(1, int(lengths.max(initial=0)))
    located = entity == "card"
    attributes = WINDOW_ATTRIBUTES[entity]
    ts = np.full((n, width), PAD_TS, np.int64)
    amount = np.zeros((n, width))
    attrs = {a: np.full((n, width), -1, np.int64) for a in attributes}
    lat = np.full((n, width), np.nan) if located else None
    lon = np.full((n, width), np.nan) if located else None
    total = int(lengths.sum())
    if total:
        flat = SEPARATOR.join(m for request in members for m in request).split(SEPARATOR)
        fields = np.array(flat, dtype=object).reshape(total, len(PAYLOAD_FIELDS))
        row = np.repeat(np.arange(n), lengths)
        starts = np.cumsum(lengths) - lengths
        # Members arrive latest first; the latest goes to the last column.
        col = width - 1 - (np.arange(total) - np.repeat(starts, lengths))
        ts[row, col] = fields[:, _INDEX["ts"]].astype(np.int64)
        amount[row, col] = fields[:, _INDEX["amount"]].astype(np.float64)
        for a in attributes:
            attrs[a][row, col] = vocabulary.codes(a, fields[:, _INDEX[a]].tolist())
        if lat is not None and lon is not None:
            lat[row, col] = _floats(fields[:, _INDEX["latitude"]])
            lon[row, col] = _floats(fields[:, _INDEX["longitude"]])
    return EntityWindow(ts=ts, amount=amount, attributes=attrs, latitude=lat, longitude=lon)


def _floats(values: np.ndarray) -> np.ndarray:
    return np.array([float(v) if v else np.nan for v in values.tolist()], dtype=np.float64)


def label_times(scores: Sequence[Sequence[float]]) -> np.ndarray:
    """Right-aligned (N, K) known-at times from each request's label scores."""
    n = len(scores)
    width = max(1, max((len(s) for s in scores), default=0))
    out = np.full((n, width), PAD_TS, np.int64)
    for i, s in enumerate(scores):
        if s:
            out[i, width - len(s) :] = np.sort(np.asarray(s, dtype=np.int64))
    return out
