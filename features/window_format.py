"""The online window formats, written down once: Redis keys, an entity's state and the
event payload.

Keys (prefix from settings, default "fe"; FORMAT changes whenever a payload layout or the
state's layout does, so a new release never parses an old release's state). The part in
literal braces (doubled below) is the key's Redis Cluster hash tag: an entity's two keys
share one slot, and so do a transaction's two idempotency keys (features/cluster_store.py;
harmless on one node):

    {prefix}:e4:{{entity}:{value}}  string: the entity's state (STATE_HEAD below): its
                                  30-day profile's cached totals and day entries, then
                                  its window, one record per transaction (the payload
                                  below), latest event time first
    {prefix}:l:{{entity}:{value}}   sorted set of confirmed-fraud labels: member =
                                  transaction id, score = time the label became known
    {prefix}:seen:{{scope}:{txid}}  the request's fingerprint, once the transaction is
                                  recorded (idempotency: it is recorded once)
    {prefix}:d:{{scope}:{txid}}     the request's fingerprint (FINGERPRINT_LENGTH hex
                                  characters), then the response stored for a retry

State: little-endian int64s. The head: the day (UTC days since 1970) whose profile totals
are cached (NO_DAY: none), those totals (PROFILE_SUMS: the counts over the 1, 7, 30
complete days before it, the cents and the squares of the 30), the number of day entries.
Then the day entries, latest day first, each (day, count, cents, squares) (an entity
without a profile, the account, has none). Then the window's records back to back, latest
first. The window script reads and rewrites it whole (features/redis_store.py,
entity_state), so it is bounded by construction: at most 2 * KEEP_EVENTS records and 31
day entries.

A value holding "}" ends its tag early, the same way in each of its keys: they still
share a slot.

An idempotency key is the transaction id within a scope, the API key's id
(app.auth.key_id): two callers' ids never meet. A retry whose request has another
fingerprint (another card, amount, time...) is a conflict, not a retry.

Payload: a fixed-width little-endian record per entity (MEMBER_DTYPES): the
transaction's code, its time (int64 epoch ms) and amount (float64), the codes of
the attributes its entity's features read (WINDOW_ATTRIBUTES), and for the card
its latitude and longitude (float64, NaN when absent). A window read is then one
`numpy.frombuffer` of the members joined back to back, with no per-member Python.
A merchant's members carry only code, time, amount and card: a busy merchant's
window is the largest thing read per request.

Codes: the first 8 bytes of BLAKE2b of the value, as a 63-bit integer (-1 for an
absent value). Features only compare codes for equality, and the same value gets
the same code in every process, batch and release. Two values of one window
sharing a code has odds of about 1e-14; the transaction code keeps members of
different transactions distinct, so a retried id is still counted once.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from hashlib import blake2b

import numpy as np

from controls.hits import ListHit
from features.batch import PAD_TS, EntityWindow
from features.definitions import DAY_MS, ENTITIES, PROFILE_SUMS, WINDOW_ATTRIBUTES

CODE_MASK = (1 << 63) - 1
LOCATED = "card"  # the entity whose members carry the location


def value_code(value: str | None) -> int:
    """The code of a categorical value (equal values, equal codes; -1 if absent)."""
    if not value:
        return -1
    digest = blake2b(value.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & CODE_MASK


def _member_dtype(entity: str) -> np.dtype:
    fields = [("code", "<i8"), ("ts", "<i8"), ("amount", "<f8")]
    fields += [(a, "<i8") for a in WINDOW_ATTRIBUTES[entity]]
    fields += [("latitude", "<f8"), ("longitude", "<f8")] * (entity == LOCATED)
    return np.dtype(fields)


MEMBER_DTYPES: dict[str, np.dtype] = {e: _member_dtype(e) for e in ENTITIES}
# The same records written by struct (a few times faster than numpy for one record).
_STRUCT_CODES = {np.dtype("<i8"): "q", np.dtype("<f8"): "d"}
_PACKERS: dict[str, struct.Struct] = {
    e: struct.Struct("<" + "".join(_STRUCT_CODES[dtype[name]] for name in dtype.names or ()))
    for e, dtype in MEMBER_DTYPES.items()
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
    # Whose transaction id this is, and the request's fingerprint: the idempotency keys.
    scope: str = ""
    fingerprint: str = ""
    codes: dict[str, int] = field(init=False, repr=False, compare=False)  # per CATEGORICAL field

    def __post_init__(self) -> None:
        codes = {name: value_code(getattr(self, name)) for name in CATEGORICAL}
        object.__setattr__(self, "codes", codes)

    def entity_value(self, entity: str) -> str | None:
        value: str | None = getattr(self, entity)  # the five entities are fields of the event
        return value

    def payload(self, entity: str) -> bytes:
        """This transaction as a member of one entity's window."""
        return self.payloads()[entity]

    def profile_args(self) -> tuple[int, int, int]:
        """What this transaction adds to its day's profile totals: (day, cents, squares), the
        same integers as features.compute.amount_cents / amount_squares."""
        amount = float(self.amount)
        return self.ts // DAY_MS, round(amount * 100.0), round(amount * amount)

    def payloads(self) -> dict[str, bytes]:
        """This transaction as a member of every entity's window."""
        codes = self.codes
        common = (value_code(self.transaction_id), self.ts, float(self.amount))
        location = tuple(np.nan if v is None else float(v) for v in (self.latitude, self.longitude))
        out = {}
        for entity, packer in _PACKERS.items():
            record = common + tuple(codes[a] for a in WINDOW_ATTRIBUTES[entity])
            out[entity] = packer.pack(*record, *location * (entity == LOCATED))
        return out


@dataclass(slots=True)
class WindowRead:
    """What the window store returned for one transaction."""

    stored_response: bytes | None = None
    # The transaction id was already used in its scope for a request with another
    # fingerprint: nothing was read or recorded.
    conflict: bool = False
    # An earlier request with the same fingerprint recorded the transaction and its answer
    # is not stored yet (it is in flight, maybe in another process, or was lost with it):
    # the windows were read, nothing was recorded.
    answer_pending: bool = False
    members: dict[str, bytes] = field(default_factory=dict)  # entity -> records back to back
    label_scores: dict[str, list[float]] = field(default_factory=dict)
    # entity -> b"day n1 n7 n30 cents squares" (the day, then PROFILE_SUMS), None if absent
    profiles: dict[str, bytes | None] = field(default_factory=dict)
    # Every matching, unexpired list entry of its card, account, device, IP and merchant.
    lists: tuple[ListHit, ...] = ()


# 4: an entity's window and profile in one string, records latest first (3: the window a
# sorted set of the same records, `{prefix}:w3:`, the profile a hash, `{prefix}:p:`).
FORMAT = "4"
NO_DAY = -(2**52)  # a day no event has: no totals cached
_HEAD_WORDS = 2 + len(PROFILE_SUMS)  # the day, PROFILE_SUMS, the number of day entries
STATE_HEAD_FORMAT = "<" + "i8" * _HEAD_WORDS  # as Lua's struct writes it
STATE_HEAD_SIZE = 8 * _HEAD_WORDS
DAY_ENTRY = np.dtype([("day", "<i8"), ("n", "<i8"), ("cents", "<i8"), ("squares", "<i8")])


def entity_key(prefix: str, entity: str, value: str) -> str:
    """The key of an entity's state: its window and profile."""
    return f"{prefix}:e{FORMAT}:{{{entity}:{value}}}"


def label_key(prefix: str, entity: str, value: str) -> str:
    return f"{prefix}:l:{{{entity}:{value}}}"


def label_member(scope: str, transaction_id: str) -> str:
    """A transaction in a label window: its id within its scope (the scoring key's id), so
    two keys' transactions under one id are two labels."""
    return f"{scope}:{transaction_id}"


FINGERPRINT_LENGTH = 32  # hex characters of scoring.transaction.Transaction.fingerprint


def seen_key(prefix: str, scope: str, transaction_id: str) -> str:
    return f"{prefix}:seen:{{{scope}:{transaction_id}}}"


def decision_key(prefix: str, scope: str, transaction_id: str) -> str:
    return f"{prefix}:d:{{{scope}:{transaction_id}}}"


def windows_from_members(entity: str, windows: Sequence[bytes]) -> EntityWindow:
    """Right-aligned window arrays from each request's members, latest first (ZREVRANGEBYSCORE),
    back to back (as the window script returns them)."""
    n = len(windows)
    dtype = MEMBER_DTYPES[entity]
    sizes = np.fromiter((len(w) for w in windows), dtype=np.int64, count=n)
    if (sizes % dtype.itemsize).any():
        raise ValueError(f"{entity} window members are not {dtype.itemsize}-byte records")
    lengths = sizes // dtype.itemsize
    width = max(1, int(lengths.max(initial=0)))
    located = entity == LOCATED
    attributes = WINDOW_ATTRIBUTES[entity]
    ts = np.full((n, width), PAD_TS, np.int64)
    amount = np.zeros((n, width))
    attrs = {a: np.full((n, width), -1, np.int64) for a in attributes}
    lat = np.full((n, width), np.nan) if located else None
    lon = np.full((n, width), np.nan) if located else None
    total = int(lengths.sum())
    if total:
        records = np.frombuffer(b"".join(windows), dtype=dtype)
        row = np.repeat(np.arange(n), lengths)
        starts = np.cumsum(lengths) - lengths
        # Members arrive latest first; the latest goes to the last column.
        col = width - 1 - (np.arange(total) - np.repeat(starts, lengths))
        ts[row, col] = records["ts"]
        amount[row, col] = records["amount"]
        for a in attributes:
            attrs[a][row, col] = records[a]
        if lat is not None and lon is not None:
            lat[row, col] = records["latitude"]
            lon[row, col] = records["longitude"]
    return EntityWindow(ts=ts, amount=amount, attributes=attrs, latitude=lat, longitude=lon)


def label_times(scores: Sequence[Sequence[float]]) -> np.ndarray:
    """Right-aligned (N, K) known-at times from each request's label scores."""
    n = len(scores)
    width = max(1, max((len(s) for s in scores), default=0))
    out = np.full((n, width), PAD_TS, np.int64)
    for i, s in enumerate(scores):
        if s:
            out[i, width - len(s) :] = np.sort(np.asarray(s, dtype=np.int64))
    return out


NO_PROFILE = b" ".join([b"0"] * (1 + len(PROFILE_SUMS)))


def profile_totals(rows: Sequence[bytes | None]) -> np.ndarray:
    """(N, len(PROFILE_SUMS)) int64 totals from each request's profile read (None: absent)."""
    text = b" ".join(row or NO_PROFILE for row in rows)
    values = np.array(text.split(), dtype=np.int64).reshape(len(rows), 1 + len(PROFILE_SUMS))
    return values[:, 1:]


@dataclass(frozen=True, slots=True)
class StoredState:
    """An entity's state as stored (tests and tools; the script reads it in Lua)."""

    cached_day: int  # NO_DAY: none
    cached: tuple[int, ...]  # PROFILE_SUMS of the days before cached_day
    days: np.ndarray  # DAY_ENTRY records, latest day first
    window: np.ndarray  # MEMBER_DTYPES records, latest first


def stored_state(entity: str, raw: bytes | None) -> StoredState:
    """An entity key's value (GET; None if absent) as its parts."""
    if not raw:
        return StoredState(
            NO_DAY, (0,) * len(PROFILE_SUMS), np.zeros(0, DAY_ENTRY), stored_window(entity, None)
        )
    head = struct.unpack_from(f"<{_HEAD_WORDS}q", raw)
    start = STATE_HEAD_SIZE + DAY_ENTRY.itemsize * head[-1]
    days = np.frombuffer(raw[STATE_HEAD_SIZE:start], dtype=DAY_ENTRY)
    return StoredState(head[0], tuple(head[1:-1]), days, stored_window(entity, raw[start:]))


def stored_window(entity: str, raw: bytes | None) -> np.ndarray:
    """A window's records (an entity state's tail), latest first."""
    return np.frombuffer(raw or b"", dtype=MEMBER_DTYPES[entity])
