"""Rules: their checks, and a version's rules evaluated on a batch in priority order."""

from __future__ import annotations

import pytest

from controls import expression
from controls.columns import Columns
from controls.expression import Condition, compile_condition
from controls.hits import RuleHit
from controls.ruleset import Rule, RuleError, RuleSet, check_action, check_condition
from tests.unit.controls.batch import batch


def rule(rule_id: str, condition: str, priority: int = 10, **kw: str) -> Rule:
    return Rule(
        rule_id, kw.get("description", ""), condition, kw.get("action", "review"),
        kw.get("mode", "active"), priority,
    )  # fmt: skip


def test_rules_run_in_priority_order_then_id_with_their_mode_and_action() -> None:
    rules = RuleSet.compile(
        [
            rule("big", "amount > 2000", 20, action="decline"),
            rule("b-any", "true", 5, mode="shadow"),
            rule("a-any", "true", 5, action="raise_to:high"),
            rule("atm", 'channel == "atm"', 1, action="approve", mode="shadow"),
        ],
        version=7,
    )
    assert [r.id for r in rules.rules] == ["atm", "a-any", "b-any", "big"]
    assert rules.version == 7
    assert rules.names == {"amount", "channel"}
    hits = rules.evaluate(batch())
    every = (RuleHit("a-any", "raise_to:high", "active"), RuleHit("b-any", "review", "shadow"))
    big = RuleHit("big", "decline", "active")
    assert hits == [
        (*every, big),
        every,
        every,
        (RuleHit("atm", "approve", "shadow"), *every, big),
    ]


def test_rows_matching_nothing_have_no_hits() -> None:
    rules = RuleSet.compile([rule("never", "amount > 1e6"), rule("eur", 'currency == "EUR"')], 1)
    assert rules.evaluate(batch()) == [
        (RuleHit("eur", "review", "active"),),
        (RuleHit("eur", "review", "active"),),
        (),
        (),
    ]
    assert [r.id for r in rules.rules] == ["eur", "never"]
    assert rules.matrix(batch()).tolist() == [[True, True, False, False], [False] * 4]


def test_an_empty_rule_set_or_batch() -> None:
    assert RuleSet.compile([], 0).evaluate(batch()) == [()] * 4
    assert RuleSet.compile([rule("x", "true")], 0).evaluate(Columns(0)) == []


@pytest.mark.parametrize(
    ("bad", "field", "words"),
    [
        (rule("has space", "true"), "id", "is not 1-64 characters"),
        (rule("x" * 65, "true"), "id", "is not 1-64 characters"),
        (rule("r", "true", action="block"), "action", "'block' is not one of approve, review"),
        (rule("r", "true", action="raise_to:severe"), "action", "'severe' is not a risk tier"),
        (rule("r", "true", mode="dry-run"), "mode", "'dry-run' is not one of active, shadow"),
        (rule("r", "amout > 1"), "condition", "unknown name 'amout' at 0"),
        (rule("r", "true", description="x" * 1001), "description", "at most 1000"),
    ],
)
def test_a_bad_rule_is_refused_naming_the_rule_and_field(bad: Rule, field: str, words: str) -> None:
    with pytest.raises(RuleError) as info:
        RuleSet.compile([rule("fine", "true"), bad], 1)
    assert info.value.field == field
    assert words in str(info.value)
    if field != "id":
        assert info.value.rule_id == "r"
        assert "rule 'r'" in str(info.value)


def test_a_condition_error_carries_its_position() -> None:
    with pytest.raises(RuleError) as info:
        RuleSet.compile([rule("r", 'amount > 1 and channel < "pos"')], 1)
    assert (info.value.field, info.value.position) == ("condition", 23)


def test_the_same_id_twice_is_refused() -> None:
    with pytest.raises(RuleError, match="appears twice"):
        RuleSet.compile([rule("r", "true"), rule("r", "false")], 1)


def test_priority_must_be_an_integer() -> None:
    bad = Rule("r", "", "true", "review", "active", "1")  # type: ignore[arg-type]
    with pytest.raises(RuleError, match="priority"):
        bad.check()


def test_actions() -> None:
    for action in ("approve", "review", "decline", "raise_to:low", "raise_to:critical"):
        assert check_action(action) == action


def deep_condition(monkeypatch: pytest.MonkeyPatch) -> Condition:
    """A condition past the compiler's bounds (lifted here), whose evaluation raises
    RecursionError: what a rule that compiles but cannot be evaluated does."""
    with monkeypatch.context() as lifted:
        lifted.setattr(expression, "MAX_DEPTH", 10_000)
        lifted.setattr(expression, "MAX_OPERATIONS", 10_000)
        return expression.compile_condition("score" + "+1" * 900 + " > 0")


def test_a_rule_that_raises_holds_nowhere_and_is_told_the_others_are_evaluated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rules = [rule("first", "amount > 2000", 1), rule("breaks", "true", 2), rule("any", "true", 3)]
    conditions = [compile_condition("amount > 2000"), deep_condition(monkeypatch)]
    conditions.append(compile_condition("true"))
    rule_set = RuleSet(rules, conditions, version=1)
    with pytest.raises(RecursionError):
        rule_set.evaluate(batch())  # without a handler, the error is the caller's
    failed: list[tuple[str, str]] = []
    matched = rule_set.evaluate(batch(), lambda r, exc: failed.append((r.id, type(exc).__name__)))
    assert failed == [("breaks", "RecursionError")]
    assert [[h.id for h in row] for row in matched] == [
        ["first", "any"],
        ["any"],
        ["any"],
        ["first", "any"],
    ]


def test_a_condition_whose_evaluation_raises_is_refused_when_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The probe batch (controls.probe) catches what the compiler's bounds would miss."""
    monkeypatch.setattr(expression, "MAX_DEPTH", 10_000)
    monkeypatch.setattr(expression, "MAX_OPERATIONS", 10_000)
    with pytest.raises(RuleError) as info:
        check_condition("score" + "+1" * 900 + " > 0")
    assert info.value.field == "condition"
    assert info.value.message.startswith("cannot be evaluated (RecursionError:")


def test_the_probe_batch_evaluates_every_name() -> None:
    from controls.names import TYPES
    from controls.probe import probe

    for name, kind in TYPES.items():
        text = {
            "number": f"{name} > 1 or {name} / 0 == 1",
            "string": f'{name} == "x" or {name} in ["", "EUR"]',
            "tier": f'{name} >= "high"',
        }[kind]
        probe(compile_condition(text))
