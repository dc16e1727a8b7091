"""ScoreRequest to the core's plain Transaction, and back to the audit event's `request`."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from app.schemas.score import EXAMPLE, ScoreRequest, request_json, request_record
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


OFFSETS = st.sampled_from(
    ["Z", "+00:00", "-00:00", "+01:00", "-05:30", "+13:45", "+14:00", "-14:00"]
)
FRACTIONS = st.sampled_from(["", ".0", ".1", ".123", ".000001", ".999999", ".123456789"])


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    year = draw(st.integers(1, 9999))
    stamp = (
        f"{year:04d}-{draw(st.integers(1, 12)):02d}-{draw(st.integers(1, 28)):02d}T"
        f"{draw(st.integers(0, 23)):02d}:{draw(st.integers(0, 59)):02d}:"
        f"{draw(st.integers(0, 59)):02d}{draw(FRACTIONS)}{draw(OFFSETS)}"
    )
    located = draw(st.booleans())
    optional = {
        name: draw(st.one_of(st.none(), st.just(EXAMPLE[name])))
        for name in ("account_id", "device_id", "ip_address", "merchant_country")
    }
    body = (
        EXAMPLE
        | optional
        | {
            "timestamp": stamp,
            "amount": draw(st.floats(0, 1_000_000, exclude_min=True)),
            "latitude": draw(st.floats(-90, 90)) if located else None,
            "longitude": draw(st.floats(-180, 180)) if located else None,
        }
    )
    return {k: v for k, v in body.items() if v is not None}


@settings(max_examples=500, deadline=None)
@given(requests())
def test_the_audit_request_encoded_in_one_pass_is_the_record_s_bytes(body: dict[str, Any]) -> None:
    try:
        transaction = ScoreRequest.model_validate(body).to_transaction()
    except ValidationError:
        return  # outside the years 1-9999 once in UTC: refused, never encoded
    expected = orjson.dumps(request_record(transaction), option=orjson.OPT_SORT_KEYS)
    assert request_json(transaction) == expected
