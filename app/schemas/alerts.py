"""Bodies of GET /v1/alerts (documentation)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from vocabulary import Decision, Tier

AlertStatus = Literal["pending", "sent", "failed", "suppressed"]  # persistence.alert_records


class Alert(BaseModel):
    scope: str = Field(
        description="The id of the API key that scored the transaction: its transaction id "
        "is unique within this scope ('' for decisions stored before scopes)"
    )
    transaction_id: str
    sink: str = Field(
        description="Where it goes: webhook, slack, pagerduty or email (the configured sinks)"
    )
    card_id: str
    scored_at: datetime
    risk_tier: Tier
    score: float
    decision: Decision
    status: AlertStatus = Field(
        description="`suppressed`: the card had an alert within FRAUD_ALERT_DEDUP_S, not sent"
    )
    attempts: int = Field(description="Deliveries tried so far")
    last_error: str | None = Field(description="Why the last delivery failed, if it did")
    created_at: datetime
    sent_at: datetime | None


class AlertPage(BaseModel):
    alerts: list[Alert] = Field(description="Newest first")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null: last")
