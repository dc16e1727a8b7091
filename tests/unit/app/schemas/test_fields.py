"""The constrained request fields: what may reach Redis keys, PostgreSQL rows and logs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from app.schemas.fields import DecimalInt, Rfc3339, normalised_ip
from app.schemas.history import FeedbackRequest
from app.schemas.score import EXAMPLE, ScoreRequest
from persistence.history import BadCursor, decode_cursor, encode_cursor
from tests.cursors import cursor_of


def refused_fields(model: type[BaseModel], value: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate_json(orjson.dumps(value))
    return [".".join(str(p) for p in e["loc"]) for e in caught.value.errors()]


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:DB8:0:0::1", "2001:db8::1"),
        ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("::FFFF:cb00:7107", "203.0.113.7"),
        ("::1", "::1"),
    ],
)
def test_an_ip_address_is_stored_in_one_spelling(given: str, stored: str) -> None:
    assert ScoreRequest.model_validate(EXAMPLE | {"ip_address": given}).ip_address == stored


@pytest.mark.parametrize(
    "ip",
    [
        "fe80::1%\u0000\nInjected: yes",
        "fe80::1%eth0",
        "fe80::1%1",
        "1" * 10_000,
        "0000:0000:0000:0000:0000:ffff:203.000.113.007",
        "203.0.113.7\n",
        "",
        "300.1.1.1",
    ],
)
def test_scope_ids_control_characters_and_long_values_are_not_ip_addresses(ip: str) -> None:
    assert refused_fields(ScoreRequest, EXAMPLE | {"ip_address": ip}) == ["ip_address"]


def test_a_scope_id_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="scope ids"):
        normalised_ip("fe80::1%eth0")


CONTROLS = ["\x00", "\x1f", "\n", "\x7f", "\x85", "\x9f"]
SCORE_TEXT = [
    "transaction_id",
    "timestamp",
    "currency",
    "card_id",
    "account_id",
    "merchant_id",
    "merchant_category",
    "merchant_country",
    "channel",
    "device_id",
    "ip_address",
]
FEEDBACK = {"transaction_id": "tx_1", "label": "fraud", "source": "chargeback"}
FEEDBACK_TEXT = ["transaction_id", "label", "source"]


@pytest.mark.parametrize("control", CONTROLS)
@pytest.mark.parametrize("field", SCORE_TEXT)
def test_every_text_field_of_a_score_request_refuses_control_characters(
    field: str, control: str
) -> None:
    value = str(EXAMPLE[field])
    assert refused_fields(ScoreRequest, EXAMPLE | {field: value[:1] + control + value[1:]}) == [
        field
    ]


@pytest.mark.parametrize("field", SCORE_TEXT)
def test_every_text_field_of_a_score_request_has_a_length_limit(field: str) -> None:
    assert refused_fields(ScoreRequest, EXAMPLE | {field: "a" * 129}) == [field]


def test_identifiers_take_printable_unicode_up_to_128_characters() -> None:
    request = ScoreRequest.model_validate(EXAMPLE | {"card_id": "é" * 128, "device_id": "ü ü"})
    assert request.card_id == "é" * 128


@pytest.mark.parametrize("control", CONTROLS)
@pytest.mark.parametrize("field", FEEDBACK_TEXT)
def test_every_text_field_of_feedback_refuses_control_characters(field: str, control: str) -> None:
    value = FEEDBACK[field]
    assert refused_fields(FeedbackRequest, FEEDBACK | {field: value + control}) == [field]
    assert refused_fields(FeedbackRequest, FEEDBACK | {field: "a" * 65}) == [field]


RFC3339 = TypeAdapter(Rfc3339)


@pytest.mark.parametrize(
    "value",
    [
        1795863600,
        "1795863600",
        "2026-11-28",
        "2026-11-28T12:00",
        "2026-11-28T12:00+01:00",
        "2026-11-28T12:00:00",
        "2026-11-28 12:00:00Z",
        "2026-11-28T12:00:00+01:00\n",
        "0001-01-01T00:00:00+23:59",
        "9999-12-31T23:59:59.999999-23:59",
    ],
)
def test_times_are_rfc_3339_with_seconds_and_an_offset_within_utc_years(value: object) -> None:
    with pytest.raises(ValidationError):
        RFC3339.validate_json(orjson.dumps(value))
    with pytest.raises(ValidationError):
        RFC3339.validate_python(value)


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-28T12:00:00Z",
        "2026-11-28T12:00:00.123456+01:00",
        "0001-01-01T00:00:00-01:00",
        "9999-12-31T23:59:59+01:00",
    ],
)
def test_rfc_3339_times_pass(value: str) -> None:
    assert RFC3339.validate_python(value) == datetime.fromisoformat(value)


DECIMAL = TypeAdapter(DecimalInt)


@pytest.mark.parametrize("value", ["1_0", "5.0", " 5", "5 ", "+5", "-5", "\uff15", "0x5", "1" * 10])
def test_integers_from_text_are_plain_decimal_digits(value: str) -> None:
    with pytest.raises(ValidationError):
        DECIMAL.validate_python(value)


def test_decimal_digits_pass() -> None:
    assert DECIMAL.validate_python("050") == 50


@pytest.mark.parametrize(
    "cursor",
    [
        cursor_of(["9999-12-31T23:59:59.999999-23:59", "k", "tx"]),
        cursor_of(["0001-01-01T00:00:00+23:59", "k", "tx"]),
        cursor_of(["2026-11-20T09:00:00", "k", "tx"]),
        cursor_of(["2026-11-20T09:00:00+00:00", "k", "tx\x00"]),
        cursor_of(["2026-11-20T09:00:00+00:00", "k", "t" * 65]),
        cursor_of(["2026-11-20T09:00:00+00:00", "k", 5]),
        cursor_of(["2026-11-20T09:00:00+00:00", "k\x00", "tx"]),
        cursor_of(["2026-11-20T09:00:00+00:00", "k" * 65, "tx"]),
        cursor_of(["2026-11-20T09:00:00+00:00", None, "tx"]),
        cursor_of(["2026-11-20T09:00:00+00:00", "tx"]),  # before scopes: page again
        cursor_of([5, "k", "tx"]),
        cursor_of({"a": 1}),
        "!!",
    ],
)
def test_a_cursor_this_api_could_not_have_issued_is_refused(cursor: str) -> None:
    with pytest.raises(BadCursor):
        decode_cursor(cursor)


def test_an_issued_cursor_decodes() -> None:
    moment = datetime(2026, 11, 20, 9, tzinfo=UTC)
    assert decode_cursor(encode_cursor(moment, "k_1", "tx:1")) == (moment, "k_1", "tx:1")
    assert decode_cursor(encode_cursor(moment, "", "tx:1")) == (moment, "", "tx:1")
