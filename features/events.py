"""The online window formats, written down once: Redis keys and the event payload.

Keys (prefix from settings, default "fe"; FORMAT changes whenever a payload layout
does, so a new release never parses an old release's members):

    {prefix}:w2:{entity}:{value}  sorted set, one member per transaction: the payload
                                  below; score = event time in epoch ms
    {prefix}:l:{entity}:{value}   sorted set of confirmed-fraud labels: member =
                                  transaction id, score = time the label became known
    {prefix}:seen:{txid}          "1" once the transaction is recorded (idempotency)
    {prefix}:d:{txid}             the stored response for a retried transaction id

Payload: per entity, the fields its features read (ENTITY_PAYLOAD) joined by the
ASCII unit separator 0x1f, empty for a missing value. Request validation refuses
control characters in every field, so the separator cannot occur inside one.
The transaction id comes first, so a member names its transaction. A merchant's
members carry only id, time, amount and card: a busy merchant's window is the
largest thing read per request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from features.batch import PAD_TS, EntityWindow
from features.definitions import ENTITIES, WINDOW_ATTRIBUTES

SEPARATOR = b"\x1f"
ENTITY_PAYLOAD: dict[str, tuple[str, ...]] = {
    entity: ("transaction_id", "ts", "amount", *WINDOW_ATTRIBUTES[entity])
    + (("latitude", "longitude") if entity == "card" else ())
    for entity in ENTITIES
}
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
        value: str | None = getattr(self, entity)  # the five entities are fields of the event
        return value

    def payload(self, entity: str) -> bytes:
        """This transaction as a member of one entity's window."""
        return self.payloads()[entity]

    def payloads(self) -> dict[str, bytes]:
        """This transaction as a member of every entity's window (fields encoded once)."""
        values = {
            "transaction_id": self.transaction_id,
            "ts": str(self.ts),
            "amount": repr(float(self.amount)),
            "card": self.card,
            "account": self.account or "",
            "device": self.device or "",
            "ip": self.ip or "",
            "merchant": self.merchant,
            "country": self.country or "",
            "latitude": "" if self.latitude is None else repr(float(self.latitude)),
            "longitude": "" if self.longitude is None else repr(float(self.longitude)),
        }
        encoded = {k: v.encode() for k, v in values.items()}
        return {
            e: SEPARATOR.join(encoded[f] for f in layout) for e, layout in ENTITY_PAYLOAD.items()
        }


@dataclass(slots=True)
class WindowRead:
    """What the window store returned for one transaction."""

    stored_response: bytes | None = None
    members: dict[str, bytes] = field(default_factory=dict)  # entity -> members joined by 0x1f
    label_scores: dict[str, list[float]] = field(default_factory=dict)


FORMAT = "2"


def window_key(prefix: str, entity: str, value: str) -> str:
    return f"{prefix}:w{FORMAT}:{entity}:{value}"


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
    entity: str, windows: Sequence[bytes], vocabulary: Vocabulary
) -> EntityWindow:
    """Right-aligned window arrays from each request's members, latest first (ZREVRANGEBYSCORE),
    joined by the separator (as the window script returns them)."""
    n = len(windows)
    layout = ENTITY_PAYLOAD[entity]
    lengths = np.fromiter(
        ((w.count(SEPARATOR) + 1) // len(layout) if w else 0 for w in windows),
        dtype=np.int64,
        count=n,
    )
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
        index = {name: i for i, name in enumerate(layout)}
        fields = np.array(SEPARATOR.join(w for w in windows if w).split(SEPARATOR), dtype=object)
        fields = fields.reshape(total, len(layout))
        row = np.repeat(np.arange(n), lengths)
        starts = np.cumsum(lengths) - lengths
        # Members arrive latest first; the latest goes to the last column.
        col = width - 1 - (np.arange(total) - np.repeat(starts, lengths))
        ts[row, col] = fields[:, index["ts"]].astype(np.int64)
        amount[row, col] = fields[:, index["amount"]].astype(np.float64)
        for a in attributes:
            attrs[a][row, col] = vocabulary.codes(a, fields[:, index[a]].tolist())
        if lat is not None and lon is not None:
            lat[row, col] = _floats(fields[:, index["latitude"]])
            lon[row, col] = _floats(fields[:, index["longitude"]])
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
