"""ScoreRequest to the core's plain Transaction, and back to the audit event's `request`."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import pytest

from app.schemas.score import EXAMPLE, ScoreRequest, request_record
from scoring.transaction import Transaction


def test_a_transaction_has_the_request_fields_in_contract_order() -> None:
    assert [f.name for f in fields(Transaction)] == list(ScoreRequest.model_fields)


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"timestamp": "2026-11-28T11:00:00Z", "amount": 5},
        {"timestamp": "2026-11-28T11:00:00.123456+00:00", "amount": 1_000_000},
        {"timestamp": "2026-11-28T12:00:00.1-05:30", "latitude": None, "longitude": None},
        {"account_id": None, "device_id": None, "ip_address": None, "merchant_country": None},
    ],
)
def test_the_audit_record_of_a_transaction_is_the_validated_request(
    changes: dict[str, Any],
) -> None:
    request = ScoreRequest.model_validate(
        {k: v for k, v in (EXAMPLE | changes).items() if v is not None}
    )
    transaction = request.to_transaction()
    assert transaction.card_id == request.card_id
    record = request_record(transaction)
    assert record == request.model_dump(mode="json")
    assert list(record) == list(request.model_dump(mode="json"))
