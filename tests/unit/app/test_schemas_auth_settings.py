"""Request validation, API keys and settings, without servers."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from app.auth import digest, key_id, new_key
from app.schemas.score import EXAMPLE, ScoreRequest
from app.settings import Settings
from features.window_format import value_code


def parse(**changes: Any) -> ScoreRequest:
    return ScoreRequest.model_validate({**EXAMPLE, **changes})


def test_the_example_converts_to_event_time_and_local_offset() -> None:
    tx = parse().to_online()
    assert tx.event.ts == 1795863600000  # 2026-11-28T11:00:00Z
    assert tx.offset_minutes == 60
    assert tx.event.codes["card"] == value_code("card_tok_8f3a")
    assert tx.event.amount == 249.99


def test_sub_millisecond_times_floor_like_the_offline_replay() -> None:
    assert parse(timestamp="2026-11-28T11:00:00.0009Z").to_online().event.ts == 1795863600000


@pytest.mark.parametrize(
    "changes",
    [
        {"timestamp": "2026-11-28T12:00:00"},
        {"timestamp": 1795863600},
        {"amount": 0},
        {"amount": float("nan")},
        {"amount": True},
        {"amount": "1.00"},
        {"currency": "EURO"},
        {"merchant_country": "FRA"},
        {"latitude": 91.0},
        {"longitude": None},
        {"ip_address": "not-an-ip"},
        {"device_id": "tab\there"},
        {"transaction_id": "x" * 65},
        # UTC instants outside years 1-9999 (they overflowed in the consumer), and offsets
        # no zone has.
        {"timestamp": "9999-12-31T23:59:59-14:00"},
        {"timestamp": "0001-01-01T00:00:00+14:00"},
        {"timestamp": "2026-11-28T12:00:00+14:01"},
        {"timestamp": "2026-11-28T12:00:00-23:59"},
    ],
)
def test_contract_violations_are_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        parse(**changes)


def test_the_extremes_of_the_utc_range_and_of_the_offsets_are_accepted() -> None:
    """Replay mode takes any time the types can hold: every one converts to UTC."""
    for stamp in (
        "9999-12-31T23:59:59+14:00",
        "0001-01-01T00:00:00-14:00",
        "2026-11-28T12:00:00-14:00",
        "9999-12-31T23:59:59.999999Z",
    ):
        assert parse(timestamp=stamp).timestamp.tzinfo is not None


def test_ipv6_and_missing_optionals_are_accepted() -> None:
    minimal = {
        k: v
        for k, v in EXAMPLE.items()
        if k not in {"account_id", "device_id", "latitude", "longitude", "merchant_country"}
    }
    tx = ScoreRequest.model_validate({**minimal, "ip_address": "2001:db8::1"}).to_online()
    assert tx.event.ip == "2001:db8::1"
    assert tx.event.device is None


def test_keys_are_random_and_only_their_digest_is_stored() -> None:
    (k1, d1), (k2, _) = new_key(), new_key()
    assert k1 != k2
    assert d1 == digest(k1)
    assert len(d1) == 64
    assert k1 not in d1


def test_a_key_id_is_a_short_prefix_of_its_digest_never_the_key() -> None:
    key, stored = new_key()
    assert key_id(key) == stored[:16]
    assert key not in key_id(key)
    assert key_id(key) != key_id(new_key()[0])


def test_settings_refuse_unsafe_production_and_bad_decision_maps() -> None:
    with pytest.raises(ValidationError, match="FRAUD_API_KEYS"):
        Settings(environment="production")
    # Replayed event times trust the client's clock: tests and backfills only.
    assert Settings().event_time == "live"
    with pytest.raises(ValidationError, match="FRAUD_EVENT_TIME=replay"):
        Settings(environment="production", api_keys=digest("k"), event_time="replay")
    assert Settings(environment="test", event_time="replay").event_time == "replay"
    assert Settings(environment="production", api_keys=digest("k")).api_key_digests == {digest("k")}
    with pytest.raises(ValidationError, match="decisions"):
        Settings(decisions="low=approve,medium=maybe,high=review,critical=decline")
    for url in ("redis://h:6379/0", "unix:///run/redis.sock", "redis+cluster://h:7000"):
        assert Settings(redis_url=url).redis_url == url
    assert Settings(redis_url="rediss+cluster://h:7000/0").redis_url.endswith("/0")
    with pytest.raises(ValidationError, match="redis_url must start with"):
        Settings(redis_url="cluster://h:7000")
    with pytest.raises(ValidationError, match="one database"):
        Settings(redis_url="redis+cluster://h:7000/3")
    assert Settings().decision_map == {
        "low": "approve",
        "medium": "review",
        "high": "review",
        "critical": "decline",
    }


def test_settings_come_from_fraud_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUD_REDIS_URL", "redis://127.0.0.1:6390/2")
    monkeypatch.setenv("FRAUD_REDIS_BUDGET_MS", "10")
    settings = Settings()
    assert settings.redis_url == "redis://127.0.0.1:6390/2"
    assert settings.redis_budget_ms == 10.0


def test_alert_settings_refuse_an_unsigned_webhook_and_unknown_tiers() -> None:
    with pytest.raises(ValidationError, match="WEBHOOK_SECRET"):
        Settings(alert_webhook_url="http://127.0.0.1:9/hook")
    with pytest.raises(ValidationError, match="alert_tiers"):
        Settings(alert_tiers="high,severe")
    assert Settings(alert_tiers="critical").alert_tier_set == {"critical"}


def test_settings_refuse_more_in_sync_replicas_than_replicas() -> None:
    with pytest.raises(ValidationError, match="MIN_INSYNC_REPLICAS"):
        Settings(audit_replication_factor=2, audit_min_insync_replicas=3)
    assert Settings(audit_replication_factor=3, audit_min_insync_replicas=2).audit_idempotence


def test_answered_decisions_go_through_the_audit_log_by_default_in_production_only() -> None:
    key = digest("fk_production_key")
    assert Settings(environment="production", api_keys=key).durable_audit
    assert not Settings(environment="development").durable_audit
    assert not Settings(environment="test").durable_audit
    assert not Settings(
        environment="production", api_keys=key, audit_durability="memory"
    ).durable_audit
    assert Settings(environment="development", audit_durability="log").durable_audit
    with pytest.raises(ValidationError, match="audit_durability"):
        Settings(audit_durability="disk")
