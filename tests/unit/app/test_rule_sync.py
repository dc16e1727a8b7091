"""Building the rule set in service: each condition compiled once across versions, and the
rule set's operations bounded (FRAUD_MAX_RULE_SET_OPERATIONS) in priority order."""

from __future__ import annotations

import pytest

from app.rule_sync import compile_servable, rule_set_operations
from controls import condition_cache
from controls.condition_cache import ConditionCache
from controls.ruleset import Rule, RuleError, check_condition


def rule(rule_id: str, condition: str, priority: int) -> Rule:
    return Rule(rule_id, "", condition, "review", "shadow", priority)


def test_a_new_version_compiles_only_the_conditions_it_did_not_have(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    compiled: list[str] = []

    def counting(text: str):  # type: ignore[no-untyped-def]
        compiled.append(text)
        return check_condition(text)

    monkeypatch.setattr(condition_cache, "check_condition", counting)
    cache = ConditionCache(limit=100)
    first = [rule(f"r{i}", f"amount > {i}", i) for i in range(5)]
    assert len(compile_servable(first, 1, cache)) == 5
    assert sorted(compiled) == sorted(r.condition for r in first)  # once each, not twice
    compiled.clear()
    second = [*first[1:], rule("r0", "amount > 100", 0)]
    assert len(compile_servable(second, 2, cache)) == 5
    assert compiled == ["amount > 100"]
    cache.retain(r.condition for r in second)
    assert len(cache) == 5


def test_refusals_are_not_kept_and_the_cache_is_bounded() -> None:
    cache = ConditionCache(limit=3)
    for _ in range(2):
        with pytest.raises(RuleError):
            cache("amout > 1")
    for i in range(7):
        cache(f"amount > {i}")
    assert len(cache) <= 3


def test_rules_past_the_operations_bound_are_left_out_in_priority_order() -> None:
    three = 'amount > 1 and channel == "pos"'  # 3 operations
    rules = [rule("c", three, 3), rule("a", three, 1), rule("b", three, 2), rule("d", "true", 4)]
    assert rule_set_operations(rules) == 9
    served = compile_servable(rules, 1, max_operations=7)
    assert [r.id for r in served.rules] == ["a", "b", "d"]  # c would make 9; d costs none
    assert served.operations == 6
    bad = [rule("x", "amout > 1", 1), *rules]
    assert rule_set_operations(bad) == 9  # a rule that does not compile is never served
