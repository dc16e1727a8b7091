"""A decision's one encoding: the bytes of a 200, of a stored answer, of an audit event's
`decision`; and ScoreResponse, the model that documents it, holds the same fields."""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

import orjson

from app.schemas.score import ScoreResponse
from controls.hits import ListHit, RuleHit
from ensemble.bundle import Reason
from scoring.decision import Decision

BASE = Decision(
    transaction_id="tx_1",
    score=0.8300000000000001,
    risk_tier="high",
    decision="review",
    decision_source="rule:big_ecommerce",
    rules=(RuleHit("big_ecommerce", "review", "active"), RuleHit("night", "decline", "shadow")),
    list_hit=None,
    reasons=(Reason("card_count_1h", 14.0, 0.31), Reason("ip_is_new", None, 0.05)),
    components={"xgboost": 0.91, "isolation_forest": 0.64},
    model_version="2026-11-28T12:00:00Z-3f2a",
    degraded=False,
    latency_ms=1.7,
)


def decision(**changes: Any) -> Decision:
    return replace(BASE, **changes)


def test_a_decision_is_encoded_to_the_exact_bytes_of_the_contract() -> None:
    assert decision().json == (
        b'{"transaction_id":"tx_1","score":0.8300000000000001,"risk_tier":"high",'
        b'"decision":"review","decision_source":"rule:big_ecommerce",'
        b'"rules":[{"id":"big_ecommerce","action":"review","mode":"active"},'
        b'{"id":"night","action":"decline","mode":"shadow"}],"list":null,'
        b'"reasons":[{"feature":"card_count_1h","value":14.0,'
        b'"contribution":0.31},{"feature":"ip_is_new","value":null,"contribution":0.05}],'
        b'"components":{"xgboost":0.91,"isolation_forest":0.64},'
        b'"model_version":"2026-11-28T12:00:00Z-3f2a","degraded":false,"latency_ms":1.7}'
    )
    assert decision(reasons=(), degraded=True).json.count(b'"reasons":[]') == 1
    blocked = decision(list_hit=ListHit("l1", "card", "block"), decision_source="list:l1")
    assert b'"list":{"id":"l1","entity":"card","action":"block"}' in blocked.json


def test_an_answer_stored_before_the_decision_layer_reads_as_the_models() -> None:
    old = orjson.loads(decision().json)
    for key in ("decision_source", "rules", "list"):
        del old[key]
    stored = orjson.dumps(old)
    again = Decision.from_json(stored)
    assert (again.decision_source, again.rules, again.list_hit) == ("model", (), None)
    assert again.json == stored


def test_a_stored_answer_is_given_back_byte_for_byte() -> None:
    first = decision()
    again = Decision.from_json(first.json)
    assert again == first
    assert again.json == first.json
    # Whatever the spacing of what was stored, the retry returns exactly that.
    stored = orjson.dumps(orjson.loads(first.json), option=orjson.OPT_INDENT_2)
    assert Decision.from_json(stored).json == stored
    assert Decision.from_json(stored) == first


def test_the_response_model_documents_the_decision_field_for_field() -> None:
    # Every field but the challenger's shadow result, which goes to the audit event only.
    answered = [f.name for f in fields(Decision) if f.init and f.name != "challenger"]
    assert list(ScoreResponse.model_fields) == answered
    body = decision().json
    assert ScoreResponse.model_validate_json(body).model_dump(
        mode="json", by_alias=True
    ) == orjson.loads(body)


def test_a_rule_reads_the_transactions_own_fields() -> None:
    from app.schemas.score import EXAMPLE, ScoreRequest
    from controls.names import FIELDS
    from scoring.transaction import RequestFields

    transaction = ScoreRequest.model_validate(EXAMPLE).to_transaction()
    view = RequestFields(transaction)
    assert list(view) == list(FIELDS)
    assert dict(view) == {name: getattr(transaction, name) for name in FIELDS}
    assert view.get("transaction_id") is None  # not a rule's name
