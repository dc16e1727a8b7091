"""The vocabulary: each Literal and its tuple are one spelling, in the order code relies on."""

from __future__ import annotations

from typing import get_args

import vocabulary


def test_each_tuple_is_its_literal() -> None:
    for literal, values in [
        (vocabulary.Tier, vocabulary.TIERS),
        (vocabulary.Decision, vocabulary.DECISIONS),
        (vocabulary.Entity, vocabulary.ENTITIES),
        (vocabulary.ListAction, vocabulary.LIST_ACTIONS),
        (vocabulary.RuleMode, vocabulary.RULE_MODES),
    ]:
        assert get_args(literal) == values


def test_tiers_rise_from_low_to_critical() -> None:
    assert vocabulary.TIERS == ("low", "medium", "high", "critical")


def test_every_entity_has_its_request_field_in_order() -> None:
    assert tuple(vocabulary.ENTITY_FIELDS) == vocabulary.ENTITIES
