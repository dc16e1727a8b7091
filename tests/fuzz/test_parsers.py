"""Property fuzzing (hypothesis) of the two parsers hostile bytes reach: the scoring body
parser and the audit event decoder of the consumer. A fixed number of generated cases
per run (derandomized: the same cases every run), and every committed seed
(tests/fuzz/seeds/) replayed as well.

The property is the same for both: an input is refused with the parser's own error (a
422 for the API, a dead letter for the consumer), or it passes every later conversion of
the pipeline. An accepted request becomes an online transaction, an audit event and a
decisions row that PostgreSQL can store: no overflow on the way to UTC and no NUL in the
text. This is the class of the OverflowError that stopped the consumer, and of the NUL
that PostgreSQL refused."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from app.schemas.score import EXAMPLE, ScoreRequest, request_record
from persistence.message_format import SCHEMA, audit_event
from persistence.writer import BadEvent, decode

SEEDS = Path(__file__).with_name("seeds")
CASES = 400
FUZZ = settings(
    max_examples=CASES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
DECISION = {
    "transaction_id": EXAMPLE["transaction_id"],
    "score": 0.5,
    "risk_tier": "medium",
    "decision": "review",
    "model_version": "fuzz",
    "degraded": False,
    "latency_ms": 1.0,
}


def seeds(name: str) -> list[bytes]:
    return [line.encode() for line in (SEEDS / name).read_text().splitlines()]


def storable(row: tuple[Any, ...]) -> None:
    """What PostgreSQL and the writer need of a decisions row."""
    for value in row:
        if isinstance(value, datetime):
            assert value.tzinfo is not None
            value.astimezone(UTC).date()  # the partition's day: must not overflow
        elif isinstance(value, str):
            assert "\x00" not in value
        elif isinstance(value, float):
            assert math.isfinite(value)


def scored_row(body: bytes) -> None:
    """The body through every conversion an accepted request goes through, or refused."""
    try:
        request = ScoreRequest.model_validate_json(body)
    except ValidationError:
        return
    transaction = request.to_transaction()
    request.to_online()
    decision = orjson.dumps(DECISION | {"transaction_id": request.transaction_id})
    event = audit_event(
        request_record(transaction), decision, datetime.now(UTC), "3f2a9c0d1e4b5a6c"
    )
    storable(decode(event))


def decoded(value: bytes) -> None:
    try:
        row = decode(value)
    except BadEvent:
        return
    storable(row)


def valid_event(**request: Any) -> bytes:
    return orjson.dumps(
        {
            "schema": SCHEMA,
            "scored_at": "2026-12-02T00:00:00.000000Z",
            "request": EXAMPLE | request,
            "decision": DECISION,
        }
    )


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=8,
)
offsets = st.integers(min_value=-1439, max_value=1439).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
timestamps = st.builds(
    lambda moment, zone: moment.replace(tzinfo=zone).isoformat(),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)),
    offsets,
)
hostile_text = st.text(
    st.characters(codec="utf-8", categories=["Cc", "Cf", "Zs", "L", "N", "P"]), max_size=80
)
field_values = json_values | timestamps | hostile_text
mutations = st.dictionaries(st.sampled_from(sorted(EXAMPLE)), field_values, min_size=1, max_size=4)


@FUZZ
@given(st.binary(max_size=512))
def test_score_bodies_of_random_bytes(body: bytes) -> None:
    scored_row(body)


@FUZZ
@given(mutations)
def test_score_bodies_with_hostile_fields(changes: dict[str, Any]) -> None:
    scored_row(orjson.dumps(EXAMPLE | changes))


@FUZZ
@given(st.binary(max_size=512))
def test_audit_events_of_random_bytes(value: bytes) -> None:
    decoded(value)


@FUZZ
@given(mutations)
def test_audit_events_with_hostile_request_fields(changes: dict[str, Any]) -> None:
    decoded(valid_event(**changes))


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(["schema", "scope", "scored_at", "request", "decision"]), json_values
    )
)
def test_audit_events_with_hostile_envelopes(fields: dict[str, Any]) -> None:
    event = orjson.loads(valid_event()) | fields
    decoded(orjson.dumps(event))


@pytest.mark.parametrize("body", seeds("score_bodies.jsonl"))
def test_score_body_seeds(body: bytes) -> None:
    scored_row(body)


@pytest.mark.parametrize("value", seeds("audit_events.jsonl"))
def test_audit_event_seeds(value: bytes) -> None:
    decoded(value)


def test_the_counts_are_printed(fuzz_record: Any) -> None:
    fuzz_record(
        f"hypothesis: 5 properties x {CASES} derandomized cases of the body parser and the "
        f"audit decoder, {len(seeds('score_bodies.jsonl'))} body seeds, "
        f"{len(seeds('audit_events.jsonl'))} event seeds"
    )
