"""Request and response bodies of POST /v1/score (API contract v1, as docs/api.md lists it)."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    model_validator,
)

from app.schemas.fields import Identifier, IpAddress, Rfc3339, TransactionId
from features.online import OnlineTransaction
from scoring.transaction import Transaction
from vocabulary import Decision, Entity, ListAction, RuleMode, Tier

EXAMPLE: dict[str, Any] = {
    "transaction_id": "tx_000123",
    "timestamp": "2026-11-28T12:00:00.000+01:00",
    "amount": 249.99,
    "currency": "EUR",
    "card_id": "card_tok_8f3a",
    "account_id": "acct_1942",
    "merchant_id": "m_004211",
    "merchant_category": "5732",
    "merchant_country": "FR",
    "channel": "ecommerce",
    "device_id": "dev_77a1",
    "ip_address": "203.0.113.7",
    "latitude": 48.8566,
    "longitude": 2.3522,
}


class ScoreRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [EXAMPLE]})

    transaction_id: TransactionId = Field(
        description="Idempotency key, per API key: the same id sent again with the same "
        "request gets the same answer and counts once; with other fields, 409."
    )
    timestamp: Rfc3339 = Field(
        description="Event time, RFC 3339 with an offset within ±14:00; every window uses it. "
        "Live event time (the default) refuses times more than FRAUD_MAX_CLOCK_SKEW_S ahead "
        "of the server's clock or FRAUD_MAX_EVENT_AGE_S behind it."
    )
    amount: float = Field(strict=True, gt=0, le=1_000_000, allow_inf_nan=False)
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = Field(
        description="ISO 4217 code"
    )
    card_id: Identifier = Field(description="A token for the card, never a raw PAN")
    account_id: Identifier | None = None
    merchant_id: Identifier
    merchant_category: Annotated[str, StringConstraints(pattern=r"^\d{4}$")] = Field(
        description="4-digit MCC"
    )
    merchant_country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = Field(
        None, description="ISO 3166-1 alpha-2"
    )
    channel: Literal["pos", "ecommerce", "atm"]
    device_id: Identifier | None = None
    ip_address: IpAddress | None = Field(
        None,
        description="IPv4 or IPv6, without a scope id; stored normalised (compressed IPv6, "
        "IPv4-mapped IPv6 as IPv4)",
    )
    latitude: float | None = Field(None, strict=True, ge=-90, le=90, allow_inf_nan=False)
    longitude: float | None = Field(None, strict=True, ge=-180, le=180, allow_inf_nan=False)

    @model_validator(mode="after")
    def _location_pair(self) -> ScoreRequest:
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("latitude and longitude must be given together")
        return self

    def to_transaction(self) -> Transaction:
        """What the scoring core takes: the same fields as plain data."""
        return Transaction(
            transaction_id=self.transaction_id,
            timestamp=self.timestamp,
            amount=self.amount,
            currency=self.currency,
            card_id=self.card_id,
            account_id=self.account_id,
            merchant_id=self.merchant_id,
            merchant_category=self.merchant_category,
            merchant_country=self.merchant_country,
            channel=self.channel,
            device_id=self.device_id,
            ip_address=self.ip_address,
            latitude=self.latitude,
            longitude=self.longitude,
        )

    def to_online(self) -> OnlineTransaction:
        return self.to_transaction().online()


_RECORD = TypeAdapter(Transaction)
_SORTED_FIELDS = sorted(f.name for f in dataclasses.fields(Transaction))


def request_record(transaction: Transaction) -> dict[str, Any]:
    """The audit event's `request`: the transaction as JSON values, exactly as
    `ScoreRequest.model_dump(mode="json")` writes them (pydantic's datetime format;
    absent optional fields as null)."""
    record: dict[str, Any] = _RECORD.dump_python(transaction, mode="json")
    return record


def request_json(transaction: Transaction) -> bytes:
    """request_record's object as JSON with its keys sorted (as the audit event holds it),
    encoded in one pass: orjson writes a time in UTC with "Z", as pydantic does (a unit
    test holds the two to the same bytes over generated transactions)."""
    return orjson.dumps(
        {name: getattr(transaction, name) for name in _SORTED_FIELDS}, option=orjson.OPT_UTC_Z
    )


class ReasonOut(BaseModel):
    feature: str = Field(description="A feature of docs/features.md that raised the score")
    value: float | None = Field(
        description="Its value for this transaction. A feature whose value is missing (no "
        "history, a field absent) is never a reason; decisions stored by earlier releases "
        "may hold null"
    )
    contribution: float


class RuleHitOut(BaseModel):
    id: str
    action: str = Field(description="approve, review, decline or raise_to:<tier>")
    mode: RuleMode = Field(
        description="A shadow rule is evaluated and counted; it never changes the decision"
    )


class ListHitOut(BaseModel):
    id: str
    entity: Entity
    action: ListAction


class ScoreResponse(BaseModel):
    """The body of a 200: a scoring.decision.Decision in its one encoding (Decision.json,
    which this model documents; a unit test holds the two to the same fields)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "transaction_id": "tx_000123",
                    "score": 0.83,
                    "risk_tier": "high",
                    "decision": "review",
                    "decision_source": "rule:big_ecommerce",
                    "rules": [
                        {"id": "big_ecommerce", "action": "review", "mode": "active"},
                        {"id": "night_atm", "action": "decline", "mode": "shadow"},
                    ],
                    "list": None,
                    "reasons": [{"feature": "card_count_1h", "value": 14.0, "contribution": 0.31}],
                    "components": {"xgboost": 0.91, "isolation_forest": 0.64},
                    "model_version": "2026-11-28T12:00:00Z-3f2a",
                    "degraded": False,
                    "latency_ms": 1.7,
                }
            ]
        }
    )

    transaction_id: str
    score: float = Field(ge=0, le=1)
    risk_tier: Tier
    decision: Decision
    decision_source: str = Field(
        description="What decided: `model` (the tier's decision), `rule:<id>` (an active "
        "rule) or `list:<id>` (a list entry: block, then allow, then review)"
    )
    rules: list[RuleHitOut] = Field(
        description="The rules that matched, active and shadow, in order of priority"
    )
    list_hit: ListHitOut | None = Field(
        alias="list", description="The list entry that decided, if one did"
    )
    reasons: list[ReasonOut]
    components: dict[str, float]
    model_version: str
    degraded: bool = Field(
        description="True when the feature store was unavailable: request-only features"
    )
    latency_ms: float
