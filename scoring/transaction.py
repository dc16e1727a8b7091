"""What the core scores: one card transaction as plain data, already validated by an
adapter (the HTTP one builds it from ScoreRequest), and its form for the feature code."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from hashlib import blake2b

import orjson

from controls.names import FIELDS
from features.online import OnlineTransaction
from features.window_format import Event

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(slots=True)
class Transaction:
    """The fields of API contract v1, in its order; `timestamp` carries its offset. Not
    frozen: a frozen dataclass's __init__ costs a few microseconds more per request."""

    transaction_id: str
    timestamp: datetime
    amount: float
    currency: str
    card_id: str
    account_id: str | None
    merchant_id: str
    merchant_category: str
    merchant_country: str | None
    channel: str
    device_id: str | None
    ip_address: str | None
    latitude: float | None
    longitude: float | None

    def fingerprint(self) -> str:
        """A digest of the request's canonical fields: the validated values, so the same
        request sent with its keys in another order, unknown fields or another spelling of
        the same time and offset has the same fingerprint, and any change of a value does
        not (32 hex characters)."""
        canonical = orjson.dumps(
            (
                self.transaction_id,
                self.timestamp,  # RFC 3339 with its offset, microseconds only when non-zero
                self.amount,
                self.currency,
                self.card_id,
                self.account_id,
                self.merchant_id,
                self.merchant_category,
                self.merchant_country,
                self.channel,
                self.device_id,
                self.ip_address,
                self.latitude,
                self.longitude,
            )
        )
        return blake2b(canonical, digest_size=16).hexdigest()

    def online(self, scope: str = "") -> OnlineTransaction:
        """The feature code's form; `scope` is whose transaction id it is (the caller's key
        id, app.auth.key_id): a retried id is answered only within its scope."""
        offset = self.timestamp.utcoffset() or timedelta(0)
        ts_ms = (self.timestamp - EPOCH) // timedelta(milliseconds=1)
        return OnlineTransaction(
            event=Event(
                transaction_id=self.transaction_id,
                ts=ts_ms,
                amount=self.amount,
                card=self.card_id,
                account=self.account_id,
                device=self.device_id,
                ip=self.ip_address,
                merchant=self.merchant_id,
                country=self.merchant_country,
                latitude=self.latitude,
                longitude=self.longitude,
                scope=scope,
                fingerprint=self.fingerprint(),
            ),
            offset_minutes=int(offset.total_seconds() // 60),
            channel=self.channel,
            merchant_category=self.merchant_category,
        )


_RULE_FIELDS = frozenset(FIELDS)


class RequestFields(Mapping[str, object]):
    """A transaction's fields a rule may name (controls.names.FIELDS) as a mapping, without
    copying them."""

    __slots__ = ("_transaction",)

    def __init__(self, transaction: Transaction) -> None:
        self._transaction = transaction

    def __getitem__(self, name: str) -> object:
        if name not in _RULE_FIELDS:
            raise KeyError(name)
        return getattr(self._transaction, name)

    def __iter__(self) -> Iterator[str]:
        return iter(FIELDS)

    def __len__(self) -> int:
        return len(FIELDS)
