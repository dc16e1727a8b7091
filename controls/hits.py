"""What matched a transaction: list entries and rules, as the decision carries them."""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson


@dataclass(frozen=True, slots=True)
class ListHit:
    """A list entry that matched one of the transaction's entities."""

    id: str
    entity: str  # vocabulary.ENTITIES
    action: str  # vocabulary.LIST_ACTIONS

    def as_json(self) -> dict[str, str]:
        return {"id": self.id, "entity": self.entity, "action": self.action}


@dataclass(frozen=True, slots=True)
class RuleHit:
    """A rule whose condition held for the transaction (active or shadow). A rule set makes
    one per rule, shared by every answer it matches: its JSON is encoded once."""

    id: str
    action: str  # a decision (vocabulary.DECISIONS) or "raise_to:<tier>"
    mode: str  # vocabulary.RULE_MODES
    encoded: orjson.Fragment = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "encoded", orjson.Fragment(orjson.dumps(self.as_json())))

    def as_json(self) -> dict[str, str]:
        return {"id": self.id, "action": self.action, "mode": self.mode}
