"""The rules API on real PostgreSQL and Redis: versioned changes, refusals that change
nothing, and rules deciding (active) or only counted (shadow) on /v1/score."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from app.auth import key_id
from app.main import create_app
from controls import expression
from controls.probe import probe_batch
from controls.ruleset import RuleSet
from tests.integration.conftest import API_KEY, make_settings
from tests.integration.test_score_api import body
from tests.pg import DATABASE_URL, query

POLICY = {"low": "approve", "medium": "review", "high": "review", "critical": "decline"}
RULE = {
    "description": "every large payment",
    "condition": 'amount > 10 and channel == "ecommerce"',
    "action": "decline",
    "priority": 10,
}


@pytest.fixture
def api(redis_url: str, prefix: str, bundle_dir: Path, schema: str) -> Iterator[TestClient]:
    settings = make_settings(
        redis_url, prefix, bundle_dir, database_url=DATABASE_URL, database_schema=schema
    )
    with TestClient(create_app(settings)) as c:
        c.headers["Authorization"] = f"Bearer {API_KEY}"
        yield c


def changes(schema: str) -> int:
    return len(query(schema, "SELECT 1 FROM rule_changes"))


def score_until(api: TestClient, expected: Any, **fields: Any) -> dict[str, Any]:
    """Score new transactions until `expected(answer)` holds (the rules reach the scoring
    service within FRAUD_RULES_SYNC_MS); the answer."""
    deadline = time.monotonic() + 1.0
    n = 0
    while True:
        n += 1
        r = api.post("/v1/score", json=body(transaction_id=f"t{time.monotonic_ns()}_{n}", **fields))
        assert r.status_code == 200, r.text
        answer: dict[str, Any] = r.json()
        if expected(answer) or time.monotonic() > deadline:
            return answer
        time.sleep(0.02)


def test_a_rule_is_created_versioned_and_deleted_with_every_change_recorded(
    api: TestClient, schema: str
) -> None:
    r = api.put("/v1/rules/big", json=RULE)
    assert r.status_code == 201, r.text
    assert (r.json()["version"], r.json()["updated_by"]) == (1, key_id(API_KEY))
    again = api.put("/v1/rules/big", json=RULE)
    assert (again.status_code, again.json()["version"]) == (200, 1)  # same content: no change
    changed = api.put("/v1/rules/big", json={**RULE, "action": "review"})
    assert (changed.status_code, changed.json()["version"]) == (200, 2)
    listed = api.get("/v1/rules").json()
    assert [(x["id"], x["action"], x["version"]) for x in listed["rules"]] == [("big", "review", 2)]
    assert listed["version"] == 2
    assert api.delete("/v1/rules/big").status_code == 204
    assert api.get("/v1/rules/big").status_code == 404
    history = api.get("/v1/rules/big/changes").json()
    assert [(c["version"], c["before"] is None, c["after"] is None) for c in history] == [
        (3, False, True),
        (2, False, False),
        (1, True, False),
    ]
    assert history[1]["before"]["action"] == "decline"
    assert history[1]["after"]["action"] == "review"
    assert {c["changed_by"] for c in history} == {key_id(API_KEY)}
    recreated = api.put("/v1/rules/big", json=RULE)
    assert (recreated.status_code, recreated.json()["version"]) == (201, 4)


@pytest.mark.parametrize(
    ("change", "field", "position"),
    [
        ({"condition": "amout > 10"}, "condition", 0),
        ({"condition": 'amount > "ten"'}, "condition", None),
        ({"condition": "amount >"}, "condition", None),
        ({"condition": "amount + 1"}, "condition", None),
        ({"action": "raise_to:extreme"}, "action", None),
        ({"action": "block"}, "action", None),
        ({"mode": "dry"}, "mode", None),
        ({"priority": "1"}, "priority", None),
        ({"extra": 1}, "extra", None),
    ],
)
def test_a_bad_rule_is_refused_with_422_naming_it_and_nothing_is_written(
    api: TestClient, schema: str, change: dict[str, Any], field: str, position: int | None
) -> None:
    r = api.put("/v1/rules/bad", json={**RULE, **change})
    assert r.status_code == 422, r.text
    errors = r.json()["detail"]
    assert any(field in e["field"] for e in errors), errors
    if position is not None:
        assert errors[0]["position"] == position
    assert api.get("/v1/rules").json() == {"version": 0, "rules": []}
    assert changes(schema) == 0


def test_a_change_based_on_another_version_is_refused(api: TestClient, schema: str) -> None:
    assert api.put("/v1/rules/r", json={**RULE, "expected_version": 0}).status_code == 201
    stale = api.put("/v1/rules/r", json={**RULE, "action": "review", "expected_version": 0})
    assert stale.status_code == 409, stale.text
    assert api.get("/v1/rules/r").json()["action"] == "decline"
    fresh = api.put("/v1/rules/r", json={**RULE, "action": "review", "expected_version": 1})
    assert fresh.json()["version"] == 2
    assert api.delete("/v1/rules/nope").status_code == 404
    assert changes(schema) == 2


def test_the_rule_set_is_capped_by_fraud_max_rules(
    redis_url: str, prefix: str, bundle_dir: Path, schema: str
) -> None:
    """A new rule past FRAUD_MAX_RULES is a 409 that writes nothing; changing a held rule,
    or adding one after a deletion, still works."""
    settings = make_settings(
        redis_url,
        prefix,
        bundle_dir,
        database_url=DATABASE_URL,
        database_schema=schema,
        max_rules=2,
    )
    with TestClient(create_app(settings)) as api:
        api.headers["Authorization"] = f"Bearer {API_KEY}"
        for rule_id in ("a", "b"):
            assert api.put(f"/v1/rules/{rule_id}", json=RULE).status_code == 201
        third = api.put("/v1/rules/c", json=RULE)
        assert third.status_code == 409, third.text
        assert "FRAUD_MAX_RULES" in third.text
        assert api.get("/v1/rules/c").status_code == 404
        assert changes(schema) == 2
        assert api.put("/v1/rules/a", json={**RULE, "action": "review"}).status_code == 200
        assert api.delete("/v1/rules/b").status_code == 204
        assert api.put("/v1/rules/c", json=RULE).status_code == 201
        assert [r["id"] for r in api.get("/v1/rules").json()["rules"]] == ["a", "c"]


def hits(rule: str, mode: str) -> float:
    return REGISTRY.get_sample_value("fraud_rule_hits_total", {"rule": rule, "mode": mode}) or 0.0


def test_an_active_rule_decides_and_a_shadow_rule_is_only_counted(api: TestClient) -> None:
    assert score_until(api, lambda a: True)["decision_source"] == "model"
    assert api.put("/v1/rules/watch", json={**RULE, "mode": "shadow"}).status_code == 201
    shadowed = score_until(api, lambda a: a["rules"])
    assert shadowed["rules"] == [{"id": "watch", "action": "decline", "mode": "shadow"}]
    assert shadowed["decision_source"] == "model"
    assert shadowed["decision"] == POLICY[shadowed["risk_tier"]]
    counted = hits("watch", "shadow")
    score_until(api, lambda a: True)
    assert hits("watch", "shadow") == counted + 1
    assert api.put("/v1/rules/block_big", json=RULE).status_code == 201
    declined = score_until(api, lambda a: a["decision_source"] == "rule:block_big")
    assert declined["decision"] == "decline"
    assert [r["id"] for r in declined["rules"]] == ["block_big", "watch"]  # priority, then id
    other = score_until(api, lambda a: True, channel="pos")
    assert (other["decision_source"], other["rules"]) == ("model", [])
    assert api.delete("/v1/rules/block_big").status_code == 204
    back = score_until(api, lambda a: a["decision_source"] == "model")
    assert back["decision"] == POLICY[back["risk_tier"]]


def test_a_rule_that_raises_while_scoring_is_skipped_counted_and_shown(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hostile run's rule (500 chained additions: evaluating it nests past Python's
    recursion limit) made every /v1/score answer 500. Written today it is refused; here it
    is put in service past the compiler's bounds, as a rule this release compiles but cannot
    evaluate would be: each answer still carries the model's decision and the other rules,
    and the rule is counted, and shown by GET /v1/rules."""
    assert api.put("/v1/rules/fine", json={**RULE, "mode": "shadow"}).status_code == 201
    breaks = {**RULE, "condition": "amount > 0", "priority": 1}
    assert api.put("/v1/rules/breaks", json=breaks).status_code == 201
    score_until(api, lambda a: [r["id"] for r in a["rules"]] == ["breaks", "fine"])
    service = api.app.state.service  # type: ignore[attr-defined]
    with monkeypatch.context() as lifted:
        lifted.setattr(expression, "MAX_DEPTH", 10_000)
        lifted.setattr(expression, "MAX_OPERATIONS", 10_000)
        deep = expression.compile_condition("score" + "+1" * 500 + " > 0")
    with pytest.raises(RecursionError):
        deep.evaluate(probe_batch())
    in_service = service.rules
    conditions = [
        deep if r.id == "breaks" else expression.compile_condition(r.condition)
        for r in in_service.rules
    ]
    service.rules = RuleSet(in_service.rules, conditions, in_service.version)
    before = errors("breaks")

    for _ in range(3):
        answer = api.post("/v1/score", json=body(transaction_id=f"t{time.monotonic_ns()}"))
        assert answer.status_code == 200, answer.text
        assert answer.json()["decision_source"] == "model"
        assert answer.json()["decision"] == POLICY[answer.json()["risk_tier"]]
        assert [r["id"] for r in answer.json()["rules"]] == ["fine"]
    assert errors("breaks") == before + 3
    assert errors("fine") == 0
    listed = {r["id"]: r for r in api.get("/v1/rules").json()["rules"]}
    assert listed["fine"]["errors"] is None
    shown = listed["breaks"]["errors"]
    assert shown["batches"] >= 3
    assert shown["error"].startswith("RecursionError"), shown
    assert api.get("/v1/rules/breaks").json()["errors"]["batches"] == shown["batches"]


def errors(rule: str) -> float:
    return REGISTRY.get_sample_value("fraud_rule_errors_total", {"rule": rule}) or 0.0
