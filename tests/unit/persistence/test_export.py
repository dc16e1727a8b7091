"""The export's rows: the file's columns pinned, labels mapped from the effective report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from features.encode import prepare_history
from persistence.export import SCHEMA, to_batch

COLUMNS = [
    "scope",
    "transaction_id",
    "timestamp",
    "amount",
    "currency",
    "card_id",
    "merchant_id",
    "merchant_category",
    "channel",
    "account_id",
    "merchant_country",
    "device_id",
    "ip_address",
    "latitude",
    "longitude",
    "is_fraud",
    "label_reported_at",
    "score",
    "risk_tier",
    "decision",
    "model_version",
]


def record(
    n: int, label: str | None = None, reported_at: datetime | None = None, scope: str = "k_1"
) -> dict[str, Any]:
    """A row as the export query returns it."""
    return {
        "scope": scope,
        "transaction_id": f"tx{n}",
        "timestamp": f"2026-11-20T0{n}:00:00.250000+01:00",
        "amount": 12.5,
        "currency": "EUR",
        "card_id": "card_1",
        "merchant_id": "m_1",
        "merchant_category": "5411",
        "channel": "pos",
        "account_id": None,
        "merchant_country": "FR",
        "device_id": None,
        "ip_address": None,
        "latitude": None,
        "longitude": None,
        "score": 0.25,
        "risk_tier": "low",
        "decision": "approve",
        "model_version": "v1",
        "label": label,
        "reported_at": reported_at,
    }


def test_the_file_has_the_contract_columns_then_the_label_then_the_decision() -> None:
    assert SCHEMA.names == COLUMNS
    assert str(SCHEMA.field("amount").type) == "double"
    assert str(SCHEMA.field("is_fraud").type) == "int8"
    assert str(SCHEMA.field("label_reported_at").type) == "string"


def test_labels_map_to_is_fraud_and_only_fraud_has_a_reported_time() -> None:
    reported = datetime(2026, 11, 27, 10, 30, tzinfo=timezone(timedelta(hours=2)))
    batch = to_batch(
        [
            record(1, "fraud", reported),
            record(2, "legitimate", reported),
            record(3),
        ]
    )
    rows = batch.table.to_pylist()
    assert [r["is_fraud"] for r in rows] == [1, 0, 0]
    assert [r["label_reported_at"] for r in rows] == ["2026-11-27T08:30:00Z", None, None]
    assert (batch.fraud, batch.legitimate) == (1, 1)
    assert rows[0]["timestamp"] == "2026-11-20T01:00:00.250000+01:00"  # as the request had it

    # What the trainer reads: the fraud label known at its report, not after the delay.
    history = prepare_history(batch.table.to_pandas(), label_delay_days=7.0)
    assert history.label_known_at is not None
    known = datetime.fromtimestamp(history.label_known_at[0] / 1000, UTC)
    assert known == reported


def test_an_empty_batch_keeps_the_columns() -> None:
    batch = to_batch([])
    assert batch.table.schema == SCHEMA
    assert batch.table.num_rows == 0


def test_one_id_in_two_scopes_is_two_transactions_for_the_trainer() -> None:
    batch = to_batch([record(1, scope="k_a"), record(1, scope="k_b"), record(1, scope="k_a")])
    history = prepare_history(batch.table.to_pandas(), label_delay_days=7.0)
    assert history.frame["scope"].tolist() == ["k_a", "k_b"]
    assert history.duplicates_dropped == 1
