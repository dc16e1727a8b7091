"""The engine's words, spelled once: risk tiers, decisions, entities, list actions and rule
modes, each as a `Literal` type (for pydantic's schemas and mypy) and the tuple of its
values, read from it by `typing.get_args` (plain strings: code holds them as `str`).

A leaf: it imports nothing of the project, so every package may import it (an
import-linter contract in pyproject.toml holds it to that).
"""

from __future__ import annotations

from typing import Literal, get_args

# Ordered from the least to the most risky: a tier's rank is its index.
Tier = Literal["low", "medium", "high", "critical"]
TIERS: tuple[str, ...] = get_args(Tier)

# What an answer tells the gateway to do with the transaction.
Decision = Literal["approve", "review", "decline"]
DECISIONS: tuple[str, ...] = get_args(Decision)

# The entities a transaction names, whose history is kept and which lists can match.
Entity = Literal["card", "account", "device", "ip", "merchant"]
ENTITIES: tuple[str, ...] = get_args(Entity)
# The request field that names each entity, in ENTITIES order.
ENTITY_FIELDS: dict[str, str] = {
    "card": "card_id",
    "account": "account_id",
    "device": "device_id",
    "ip": "ip_address",
    "merchant": "merchant_id",
}

# What a list entry does to a transaction it matches (controls/precedence.py's order).
ListAction = Literal["block", "allow", "review"]
LIST_ACTIONS: tuple[str, ...] = get_args(ListAction)

# An active rule decides; a shadow rule is evaluated and counted, never changes a decision.
RuleMode = Literal["active", "shadow"]
RULE_MODES: tuple[str, ...] = get_args(RuleMode)
# A rule's action is a decision, or this prefix and a tier: the tier is raised to it.
RAISE_TO = "raise_to:"
