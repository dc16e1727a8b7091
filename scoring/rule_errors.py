"""Rules that raised while a batch was scored, in this process. No rule can fail scoring:
the one that raises holds nowhere in that batch (the answer carries the model's decision
and the other rules), is counted in fraud_rule_errors_total{rule}, logged once per rule
version, and listed here for GET /v1/rules (the console marks it)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter

from controls.ruleset import Rule

log = logging.getLogger(__name__)
RULE_ERRORS = Counter(
    "fraud_rule_errors_total",
    "Rule evaluations that raised (the rule was skipped for that batch)",
    ["rule"],
)
MAX_MESSAGE = 300


@dataclass(slots=True)
class RuleFailure:
    version: int
    batches: int  # batches in which the rule raised
    error: str  # the latest, as "<type>: <message>"
    first_at: datetime
    last_at: datetime


class RuleErrors:
    """By rule id, the failures of its latest failing version."""

    def __init__(self) -> None:
        self._by_rule: dict[str, RuleFailure] = {}

    def record(self, rule: Rule, exc: Exception) -> None:
        RULE_ERRORS.labels(rule.id).inc()
        now = datetime.now(UTC)
        error = f"{type(exc).__name__}: {exc}"[:MAX_MESSAGE]
        seen = self._by_rule.get(rule.id)
        if seen is None or seen.version != rule.version:
            log.error(
                "rules: rule %r (version %d) raised while scoring and is skipped in each "
                "batch where it does: %s",
                rule.id,
                rule.version,
                error,
            )
            seen = self._by_rule[rule.id] = RuleFailure(rule.version, 0, error, now, now)
        seen.batches += 1
        seen.error, seen.last_at = error, now

    def of(self, rule: Rule) -> dict[str, Any] | None:
        """The failures of this version of the rule, as GET /v1/rules gives them."""
        seen = self._by_rule.get(rule.id)
        if seen is None or seen.version != rule.version:
            return None
        return {
            "batches": seen.batches,
            "error": seen.error,
            "first_at": seen.first_at,
            "last_at": seen.last_at,
        }


# The process's one record: the scoring core writes it, the rules routes read it.
FAILURES = RuleErrors()
