"""Alert selection, per-card deduplication, backoff, signatures and sink formats."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import orjson

from persistence.alerts import AlertPolicy, Candidate, candidates, deduplicate, retry_delay_s
from persistence.history import decode_cursor, encode_cursor
from persistence.sinks import pagerduty_event, sign, slack_message, verify_signature

T0 = datetime(2026, 11, 28, 12, tzinfo=UTC)
ALERT = {
    "transaction_id": "tx1",
    "card_id": "card_9",
    "merchant_id": "m_1",
    "amount": 912.5,
    "currency": "EUR",
    "channel": "ecommerce",
    "score": 0.97,
    "risk_tier": "critical",
    "decision": "decline",
    "reasons": [{"feature": "card_count_1h", "value": 9.0, "contribution": 0.4}],
    "model_version": "v1",
    "scored_at": T0.isoformat(),
}


def candidate(tx: str, card: str, minutes: float) -> Candidate:
    return Candidate("k", tx, card, T0 + timedelta(minutes=minutes), "high", {})


def test_one_alert_per_card_within_the_window() -> None:
    found = [
        candidate("a2", "A", 5),
        candidate("a1", "A", 0),
        candidate("b1", "B", 1),
        candidate("a3", "A", 16),
    ]
    planned = {c.transaction_id: status for c, status in deduplicate(found, {}, 15 * 60)}
    assert planned == {"a1": "pending", "a2": "suppressed", "b1": "pending", "a3": "pending"}


def test_an_earlier_alert_in_the_database_suppresses_the_card() -> None:
    planned = deduplicate([candidate("a1", "A", 0)], {"A": T0 - timedelta(minutes=3)}, 600)
    assert [s for _, s in planned] == ["suppressed"]
    assert [s for _, s in deduplicate([candidate("a1", "A", 0)], {}, 0)] == ["pending"]


def test_only_the_policy_tiers_raise_alerts_with_the_decision_in_the_payload() -> None:
    request = {k: ALERT[k] for k in ("transaction_id", "card_id", "merchant_id", "amount")}
    request |= {"currency": "EUR", "channel": "pos"}
    response = {k: ALERT[k] for k in ("score", "decision", "reasons", "model_version")}
    rows = [
        {
            "scope": "k_1",
            "transaction_id": "tx1",
            "card_id": "card_9",
            "scored_at": T0,
            "risk_tier": tier,
            "request": orjson.dumps(request).decode(),
            "response": orjson.dumps(response | {"risk_tier": tier}).decode(),
        }
        for tier in ("low", "medium", "high", "critical")
    ]
    found = candidates(rows, AlertPolicy(frozenset({"high", "critical"}), ("webhook",)))
    assert [c.risk_tier for c in found] == ["high", "critical"]
    assert found[1].payload["decision"] == "decline"
    assert found[1].payload["reasons"] == ALERT["reasons"]
    assert found[1].payload["scored_at"] == T0.isoformat()
    assert found[1].payload["scope"] == found[1].scope == "k_1"


def test_backoff_doubles_up_to_a_cap() -> None:
    assert [retry_delay_s(n, 1.0) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert retry_delay_s(30, 1.0) == 300.0


def test_webhook_signature_checks_secret_body_and_age() -> None:
    body = orjson.dumps(ALERT)
    now = str(int(time.time()))
    signature = sign("s3cret", now, body)
    assert signature.startswith("v1=")
    assert verify_signature("s3cret", now, body, signature)
    assert not verify_signature("other", now, body, signature)
    assert not verify_signature("s3cret", now, body + b" ", signature)
    old = str(int(time.time()) - 3600)
    assert not verify_signature("s3cret", old, body, sign("s3cret", old, body))
    assert not verify_signature("s3cret", "soon", body, signature)


def test_slack_and_pagerduty_formats() -> None:
    slack = slack_message(ALERT)
    assert "CRITICAL" in slack["text"]
    assert "card_9" in slack["text"]
    assert slack["blocks"][0]["type"] == "section"
    event = pagerduty_event(ALERT, "R0UTING")
    assert event["routing_key"] == "R0UTING"
    assert event["event_action"] == "trigger"
    assert event["dedup_key"] == "fraud-engine:card:card_9"
    assert event["payload"]["severity"] == "critical"
    assert event["payload"]["source"] == "fraud-engine"
    assert event["payload"]["custom_details"]["transaction_id"] == "tx1"
    assert pagerduty_event(ALERT | {"risk_tier": "high"}, "k")["payload"]["severity"] == "error"


def test_cursor_round_trip() -> None:
    assert decode_cursor(encode_cursor(T0, "k_1", "tx:1")) == (T0, "k_1", "tx:1")
