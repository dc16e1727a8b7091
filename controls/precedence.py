"""Which control decides a transaction: the order in which lists and rules override the
model's decision, written down once (the request path and the backtest both use it).

1. Lists: a `block` entry that matches any of the transaction's entities declines it;
   otherwise an `allow` entry approves it; otherwise a `review` entry sends it to review.
   Block wins over allow, whatever the model or the rules say.
2. Active rules, in priority order: `raise_to:<tier>` rules raise the tier (never lower
   it; every matching one counts, the highest wins); the first matching rule whose action
   is a decision (approve / review / decline) decides.
3. Otherwise the model: the (possibly raised) tier's decision under the decision policy.

Shadow rules are carried in the answer and counted, and never change anything.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from controls.hits import ListHit, RuleHit
from vocabulary import RAISE_TO, TIERS, Decision, ListAction

_RANK = {tier: i for i, tier in enumerate(TIERS)}
# A list's action, the decision it makes, in order of precedence.
LIST_DECISIONS: tuple[tuple[ListAction, Decision], ...] = (
    ("block", "decline"),
    ("allow", "approve"),
    ("review", "review"),
)


@dataclass(frozen=True, slots=True)
class Settled:
    risk_tier: str
    decision: str
    source: str  # "model", "rule:<id>" or "list:<id>"
    list_hit: ListHit | None = None


def settle(
    tier: str,
    tier_decision: Callable[[str], str],
    lists: Sequence[ListHit],
    rules: Sequence[RuleHit],
) -> Settled:
    """The decision for one transaction: the model's `tier`, what the policy decides for a
    tier (`tier_decision`), the list entries that matched and the rules that matched (in
    priority order)."""
    for action, decision in LIST_DECISIONS:
        for hit in lists:
            if hit.action == action:
                return Settled(tier, decision, f"list:{hit.id}", hit)
    raised_by = ""
    decided: RuleHit | None = None
    for rule in rules:
        if rule.mode != "active":
            continue
        if rule.action.startswith(RAISE_TO):
            target = rule.action.removeprefix(RAISE_TO)
            if _RANK[target] > _RANK[tier]:
                tier, raised_by = target, rule.id
        elif decided is None:
            decided = rule
    if decided is not None:
        return Settled(tier, decided.action, f"rule:{decided.id}")
    return Settled(tier, tier_decision(tier), f"rule:{raised_by}" if raised_by else "model")
