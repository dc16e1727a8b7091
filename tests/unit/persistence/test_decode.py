"""The audit event decoder: what the API can accept, it decodes (times as UTC); anything
else is BadEvent and only BadEvent, whatever the bytes."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from app.schemas.score import ScoreRequest
from persistence.writer import COLUMNS, BadEvent, DeadLetter, decode
from tests.audit_events import audit_bytes


def with_timestamp(stamp: str) -> bytes:
    event = orjson.loads(audit_bytes("t1", "card_1"))
    event["request"]["timestamp"] = stamp
    return orjson.dumps(event)


def test_a_valid_event_decodes_with_its_times_in_utc() -> None:
    row = decode(audit_bytes("t1", "card_1"))
    assert row[0] == "t1"
    assert row[1] == datetime(2026, 11, 28, 12, tzinfo=UTC)
    assert row[2] == datetime(2026, 11, 28, 11, tzinfo=UTC)  # 12:00+01:00
    assert row[2].utcoffset().total_seconds() == 0


@pytest.mark.parametrize(
    "stamp", ["9999-12-31T23:59:59+14:00", "0001-01-01T00:00:00-14:00", "9999-12-31T23:59:59Z"]
)
def test_every_event_time_the_api_accepts_is_decoded(stamp: str) -> None:
    ScoreRequest.model_validate(
        orjson.loads(audit_bytes("t1", "c"))["request"] | {"timestamp": stamp}
    )
    assert decode(with_timestamp(stamp))[2].tzinfo is not None


@pytest.mark.parametrize(
    "value",
    [
        None,
        b"",
        b"\x00",
        b"\xc3\x28",
        b"[]",
        with_timestamp("9999-12-31T23:59:59-14:00"),
        with_timestamp("0001-01-01T00:00:00+14:00"),
        audit_bytes("t1", "card_1").replace(b'"amount":249.99', b'"amount":-1e999'),
    ],
)
def test_anything_else_is_bad_event_only(value: bytes | None) -> None:
    with pytest.raises(BadEvent):
        decode(value)


def test_a_dead_letters_error_holds_no_nul_and_is_bounded() -> None:
    letter = DeadLetter("t", 0, 1, None, None, "").refused("bad \x00 value " + "x" * 5_000)
    assert "\x00" not in letter.error
    assert letter.error.startswith("bad \\x00 value")
    assert len(letter.error) == 2_000


def with_decision(**changes: object) -> bytes:
    event = orjson.loads(audit_bytes("t1", "card_1"))
    event["decision"].update(changes)
    for key in [k for k, v in changes.items() if v is ...]:
        del event["decision"][key]
    return orjson.dumps(event)


def test_what_decided_is_stored_and_an_event_from_before_the_decision_layer_is_the_models() -> None:
    rules = [{"id": "big", "action": "review", "mode": "active"}]
    source, response = COLUMNS.index("decision_source"), COLUMNS.index("response")
    row = decode(with_decision(decision_source="rule:big", rules=rules, list=None))
    assert row[source] == "rule:big"
    assert orjson.loads(row[response])["rules"] == rules
    hit = {"id": "17", "entity": "card", "action": "block"}
    assert decode(with_decision(decision_source="list:17", list=hit))[source] == "list:17"
    assert decode(with_decision(decision_source=..., rules=..., list=...))[source] == "model"


def test_the_scope_is_stored_and_an_event_from_before_scopes_has_the_empty_one() -> None:
    scope = COLUMNS.index("scope")
    assert (
        decode(audit_bytes("t1", "card_1", scope="3f2a9c0d1e4b5a6c"))[scope] == "3f2a9c0d1e4b5a6c"
    )
    event = orjson.loads(audit_bytes("t1", "card_1"))
    del event["scope"]
    assert decode(orjson.dumps(event))[scope] == ""
    for bad in (7, None, "a b", "x" * 65, "k\x00"):
        with pytest.raises(BadEvent, match="scope"):
            decode(orjson.dumps(event | {"scope": bad}))


@pytest.mark.parametrize(
    "changes",
    [
        {"decision_source": "rules:big"},
        {"decision_source": "rule:"},
        {"decision_source": 1},
        {"rules": {"id": "x"}},
        {"rules": [{"id": "x", "action": "review", "mode": "dry"}]},
        {"rules": [{"id": "", "action": "review", "mode": "active"}]},
        {"list": {"id": "1", "entity": "card"}},
        {"list": "card"},
    ],
)
def test_a_malformed_decision_source_rules_or_list_is_a_bad_event(
    changes: dict[str, object],
) -> None:
    with pytest.raises(BadEvent):
        decode(with_decision(**changes))


CHALLENGER = {"decision": "review", "model_version": "v-next", "risk_tier": "high", "score": 0.81}


def test_the_challengers_shadow_result_is_stored_beside_the_decision() -> None:
    columns = [COLUMNS.index(f"challenger_{c}") for c in CHALLENGER]
    row = decode(audit_bytes("t1", "card_1", challenger=CHALLENGER))
    assert [row[c] for c in columns] == list(CHALLENGER.values())
    # The answer's columns are the champion's: the challenger never decided.
    assert row[COLUMNS.index("model_version")] == "v-test"
    assert row[COLUMNS.index("decision")] == "approve"
    assert [decode(audit_bytes("t1", "card_1"))[c] for c in columns] == [None] * 4


@pytest.mark.parametrize(
    "challenger",
    [
        "v-next",
        {k: v for k, v in CHALLENGER.items() if k != "score"},
        CHALLENGER | {"score": "0.8"},
        CHALLENGER | {"risk_tier": "severe"},
        CHALLENGER | {"decision": "block"},
        CHALLENGER | {"model_version": ""},
    ],
)
def test_a_malformed_challenger_is_a_bad_event(challenger: object) -> None:
    event = orjson.loads(audit_bytes("t1", "card_1")) | {"challenger": challenger}
    with pytest.raises(BadEvent, match=r"challenger|score|model_version"):
        decode(orjson.dumps(event))
