"""The order in which lists and rules override the model."""

from __future__ import annotations

from controls.hits import ListHit, RuleHit
from controls.precedence import Settled, settle

POLICY = {"low": "approve", "medium": "approve", "high": "review", "critical": "decline"}.get


def decide(tier: str, lists: list[ListHit] = [], rules: list[RuleHit] = []) -> Settled:  # noqa: B006
    return settle(tier, lambda t: POLICY(t, "?"), lists, rules)


BLOCK = ListHit("b1", "card", "block")
ALLOW = ListHit("a1", "ip", "allow")
REVIEW = ListHit("r1", "device", "review")


def test_without_controls_the_model_decides() -> None:
    assert decide("critical") == Settled("critical", "decline", "model")
    assert decide("low") == Settled("low", "approve", "model")


def test_a_block_declines_whatever_the_rest_and_wins_over_an_allow() -> None:
    approve = [RuleHit("ok", "approve", "active")]
    assert decide("low", [ALLOW, BLOCK, REVIEW], approve) == Settled(
        "low", "decline", "list:b1", BLOCK
    )
    assert decide("critical", [REVIEW, ALLOW], approve) == Settled(
        "critical", "approve", "list:a1", ALLOW
    )
    assert decide("low", [REVIEW]) == Settled("low", "review", "list:r1", REVIEW)


def test_the_first_active_deciding_rule_in_priority_order_decides() -> None:
    rules = [
        RuleHit("shadowed", "decline", "shadow"),
        RuleHit("first", "review", "active"),
        RuleHit("second", "decline", "active"),
    ]
    assert decide("low", rules=rules) == Settled("low", "review", "rule:first")


def test_shadow_rules_never_change_anything() -> None:
    rules = [RuleHit("s1", "decline", "shadow"), RuleHit("s2", "raise_to:critical", "shadow")]
    assert decide("low", rules=rules) == Settled("low", "approve", "model")


def test_raise_to_raises_never_lowers_and_the_highest_wins() -> None:
    assert decide("low", rules=[RuleHit("r", "raise_to:high", "active")]) == Settled(
        "high", "review", "rule:r"
    )
    lower = [RuleHit("r", "raise_to:medium", "active")]
    assert decide("critical", rules=lower) == Settled("critical", "decline", "model")
    both = [RuleHit("a", "raise_to:high", "active"), RuleHit("b", "raise_to:critical", "active")]
    assert decide("low", rules=both) == Settled("critical", "decline", "rule:b")


def test_a_deciding_rule_keeps_the_raised_tier() -> None:
    rules = [RuleHit("ok", "approve", "active"), RuleHit("up", "raise_to:critical", "active")]
    assert decide("medium", rules=rules) == Settled("critical", "approve", "rule:ok")
