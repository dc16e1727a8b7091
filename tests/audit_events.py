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


# The tier a decision of the report tests is given (their figures read decisions, not tiers).
TIER = {"approve": "low", "review": "medium", "decline": "critical"}


def decided_event(
    tx: str,
    at: datetime,
    score: float,
    decision: str,
    *,
    amount: float = 10.0,
    version: str = "v-test",
    scope: str = "k_test",
    challenger: dict[str, object] | None = None,
) -> bytes:
    """An audit event of a transaction at `at` (its event time and scoring time) in EUR,
    answered with `score` and `decision` by model `version`; with `challenger`, the shadow
    result it carried."""
    request = dict(EXAMPLE) | {
        "transaction_id": tx,
        "timestamp": at.isoformat(),
        "amount": amount,
        "currency": "EUR",
    }
    response = {
        "transaction_id": tx,
        "score": score,
        "risk_tier": TIER[decision],
        "decision": decision,
        "reasons": [],
        "components": {"xgboost": score, "isolation_forest": 0.4},
        "model_version": version,
        "degraded": False,
        "latency_ms": 1.0,
    }
    return audit_event(request, orjson.dumps(response), at, scope, challenger)
