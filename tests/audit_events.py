"""Audit events as the API publishes them, for tests that feed the topic directly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson

from app.schemas.score import EXAMPLE
from persistence.message_format import audit_event

T0 = datetime(2026, 11, 28, 12, tzinfo=UTC)
SCORES = {"low": 0.1, "medium": 0.5, "high": 0.8, "critical": 0.97}


def audit_bytes(
    tx: str,
    card: str,
    tier: str = "low",
    minutes: float = 0.0,
    scope: str = "k_test",
    challenger: dict[str, object] | None = None,
) -> bytes:
    """`challenger`: the shadow result the event carries (message_format.challenger_json's
    keys), None for none."""
    request = dict(EXAMPLE) | {"transaction_id": tx, "card_id": card}
    response = {
        "transaction_id": tx,
        "score": SCORES[tier],
        "risk_tier": tier,
        "decision": {"low": "approve", "critical": "decline"}.get(tier, "review"),
        "reasons": [{"feature": "amount", "value": 249.99, "contribution": 0.2}],
        "components": {"xgboost": 0.9, "isolation_forest": 0.5},
        "model_version": "v-test",
        "degraded": False,
        "latency_ms": 1.5,
    }
    return audit_event(
        request, orjson.dumps(response), T0 + timedelta(minutes=minutes), scope, challenger
    )
