"""Bodies of the history and feedback endpoints (documentation and validation)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.schemas.fields import (
    SCOPE_DESCRIPTION,
    Code,
    Rfc3339,
    TransactionId,
    TransactionScope,
)
from vocabulary import Decision, Tier


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "transaction_id": "tx_000123",
                    "label": "fraud",
                    "source": "chargeback",
                    "reported_at": "2026-12-09T08:30:00Z",
                }
            ]
        },
    )

    transaction_id: TransactionId
    scope: TransactionScope | None = Field(
        None,
        description=SCOPE_DESCRIPTION + " Needed only when the id was scored by several "
        "keys (409 names them); a key that scores sees only its own scope.",
    )
    label: Literal["fraud", "legitimate"]
    source: Code = Field(
        description="Who reports it (chargeback, analyst, customer...): one report per source"
    )
    reported_at: Rfc3339 | None = Field(
        None, description="When the label became known; default: when it is received"
    )


class FeedbackResponse(BaseModel):
    scope: str = Field(description=SCOPE_DESCRIPTION)
    transaction_id: str
    label: Literal["fraud", "legitimate"]
    source: str
    reported_at: datetime
    created: bool = Field(description="False when the same report was already stored")
    effective_label: Literal["fraud", "legitimate"] = Field(
        description="The latest report over every source: what the label features use"
    )


class TransactionSummary(BaseModel):
    scope: str = Field(description=SCOPE_DESCRIPTION)
    transaction_id: str
    scored_at: datetime
    card_id: str
    merchant_id: str
    amount: float
    currency: str
    channel: str
    score: float
    risk_tier: Tier
    decision: Decision
    decision_source: str = Field(
        description="What decided: `model`, `rule:<id>` or `list:<id>`", examples=["model"]
    )
    model_version: str
    degraded: bool
    latency_ms: float | None


class LabelOut(BaseModel):
    label: Literal["fraud", "legitimate"]
    source: str
    reported_at: datetime
    received_at: datetime
    key_id: str | None = Field(
        description="The API key that sent it: the first 16 hex digits of its SHA-256 digest"
    )


class TransactionDetail(TransactionSummary):
    stored_at: datetime
    request: dict[str, Any] = Field(description="The scored request as validated")
    response: dict[str, Any] = Field(description="The /v1/score response as sent")
    labels: list[LabelOut]


class TransactionPage(BaseModel):
    items: list[TransactionSummary]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next (older) page; null on the last page"
    )
