"""The one-second aggregates and the decision messages of the live stream."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from live.aggregates import Aggregator, decision_message
from persistence.message_format import audit_event


def message(tier: str, amount: float, latency: float, currency: str = "EUR") -> dict[str, object]:
    decision = {"low": "approve", "critical": "decline"}.get(tier, "review")
    return {
        "risk_tier": tier,
        "decision": decision,
        "degraded": tier == "low",
        "latency_ms": latency,
        "amount": amount,
        "currency": currency,
    }


def test_aggregates_count_tiers_latency_and_amount_at_risk() -> None:
    agg = Aggregator()
    for i in range(100):
        agg.add(message("low", 10.0, float(i + 1)))
    agg.add(message("high", 120.5, 2.0))
    agg.add(message("critical", 900.0, 3.0))
    agg.add(message("critical", 50.0, 4.0, currency="USD"))
    out = agg.summary("2026-11-28T12:00:00Z")
    assert out["count"] == 103
    assert out["tiers"] == {"low": 100, "medium": 0, "high": 1, "critical": 2}
    assert out["decisions"] == {"approve": 100, "review": 1, "decline": 2}
    assert out["degraded"] == 100
    assert out["amount_at_risk"] == {"EUR": 1020.5, "USD": 50.0}
    assert 48 <= out["latency_ms"]["p50"] <= 52
    assert out["latency_ms"]["p99"] > 98
    empty = Aggregator().summary("2026-11-28T12:00:01Z")
    assert empty["count"] == 0
    assert empty["latency_ms"] == {"p50": None, "p99": None}


def test_a_decision_message_comes_from_the_audit_event() -> None:
    request = {"transaction_id": "t1", "card_id": "c", "merchant_id": "m", "amount": 5.0}
    request |= {"currency": "EUR", "channel": "pos"}
    decision = {"score": 0.9, "risk_tier": "high", "decision": "review", "degraded": False}
    decision |= {"latency_ms": 1.2, "reasons": [{"feature": "amount"}], "transaction_id": "t1"}
    event = orjson.loads(
        audit_event(request, orjson.dumps(decision), datetime(2026, 1, 1, tzinfo=UTC), "k")
    )
    out = decision_message(event)
    assert out["type"] == "decision"
    assert out["reasons"] == ["amount"]
    assert out["scored_at"] == "2026-01-01T00:00:00.000000Z"
    assert out["risk_tier"] == "high"
    assert out["scope"] == "k"  # the key that scored it: its id is unique within it
    del event["scope"]
    assert decision_message(event)["scope"] == ""  # an event from before scopes


def test_declined_and_review_amounts_go_by_decision_per_currency() -> None:
    agg = Aggregator()
    agg.add(message("critical", 900.0, 1.0) | {"decision": "decline"})
    agg.add(message("low", 40.0, 1.0) | {"decision": "decline"})  # a block list on a low score
    agg.add(message("medium", 12.345, 1.0, currency="USD") | {"decision": "review"})
    agg.add(message("high", 100.0, 1.0) | {"decision": "review"})
    agg.add(message("low", 5.0, 1.0))
    out = agg.summary("2026-11-28T12:00:00Z")
    assert out["declined_amount"] == {"EUR": 940.0}
    assert out["review_amount"] == {"EUR": 100.0, "USD": 12.35}
    assert out["amount_at_risk"] == {"EUR": 1000.0}
    empty = Aggregator().summary("2026-11-28T12:00:01Z")
    assert empty["declined_amount"] == {}
    assert empty["review_amount"] == {}


def test_a_decision_message_names_its_source_rules_and_model_version() -> None:
    request = {"transaction_id": "t2", "card_id": "c", "merchant_id": "m", "amount": 5.0}
    request |= {"currency": "EUR", "channel": "pos"}
    decision = {"score": 0.2, "risk_tier": "low", "decision": "decline", "degraded": False}
    decision |= {"latency_ms": 1.0, "reasons": [], "model_version": "v7"}
    decision |= {"decision_source": "rule:big_atm"}
    decision |= {
        "rules": [
            {"id": "big_atm", "action": "decline", "mode": "active"},
            {"id": "night", "action": "raise_to:high", "mode": "shadow"},
        ]
    }
    scored = datetime(2026, 1, 1, tzinfo=UTC)
    out = decision_message(orjson.loads(audit_event(request, orjson.dumps(decision), scored, "k")))
    assert out["decision_source"] == "rule:big_atm"
    assert out["rules"] == decision["rules"]
    assert out["model_version"] == "v7"


def test_a_decision_stored_before_the_decision_layer_was_the_models() -> None:
    request = {"transaction_id": "t3", "card_id": "c", "merchant_id": "m", "amount": 5.0}
    request |= {"currency": "EUR", "channel": "pos"}
    decision = {"score": 0.2, "risk_tier": "low", "decision": "approve", "degraded": False}
    scored = datetime(2026, 1, 1, tzinfo=UTC)
    out = decision_message(orjson.loads(audit_event(request, orjson.dumps(decision), scored, "k")))
    assert out["decision_source"] == "model"
    assert out["rules"] == []
    assert out["model_version"] is None
