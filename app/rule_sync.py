"""Every API process applies the current rules within a second of a change: it polls the
rule set's version in PostgreSQL (one indexed max() every FRAUD_RULES_SYNC_MS) and, when it
moved, loads the rules and swaps them into the scoring service. Compiling runs in a thread,
off the event loop, and only for the conditions the previous version did not have (a
ConditionCache), so scoring goes on while a version is built. A write through this process
wakes its poll at once. PostgreSQL unreachable: the rules in service stay (the failure is
logged once), and the poll goes on."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from prometheus_client import Counter, Gauge

from app.periodic import Periodic
from controls.condition_cache import ConditionCache
from controls.ruleset import Compile, Rule, RuleError, RuleSet, check_condition
from persistence.database import Database, DatabaseUnavailable
from persistence.rules import load_rules, rule_set_version
from scoring.service import ScoringService
from vocabulary import RULE_MODES

log = logging.getLogger(__name__)
VERSION = Gauge("fraud_rules_version", "The rule set's version in service", multiprocess_mode="max")
RULES = Gauge("fraud_rules", "Rules in service, by mode", ["mode"], multiprocess_mode="max")
REFUSED = Counter(
    "fraud_rules_not_compiled_total",
    "Stored rules left out of service: this release cannot compile them, or they would take "
    "the rule set past FRAUD_MAX_RULE_SET_OPERATIONS",
)
OPERATIONS = Gauge(
    "fraud_rule_set_operations",
    "Operations the rule set in service applies to each batch",
    multiprocess_mode="max",
)


class RuleSync(Periodic):
    name = "rule sync"
    EXPECTED = (DatabaseUnavailable, OSError, TimeoutError)

    def __init__(
        self,
        database: Database,
        service: ScoringService,
        interval_s: float,
        max_operations: int,
        max_rules: int,
    ) -> None:
        super().__init__(interval_s)
        self.database = database
        self.service = service
        self.max_operations = max_operations
        self.version = -1  # nothing loaded yet: the first poll loads
        # Shared with PUT /v1/rules, which compiles the stored rules to weigh a change.
        self.conditions = ConditionCache(limit=4 * max_rules)

    async def step(self) -> None:
        await self.sync()

    async def sync(self) -> None:
        async with self.database.connection() as conn:
            if await rule_set_version(conn) == self.version:
                return
            version, stored = await load_rules(conn)
        rules = [s.rule for s in stored]
        self.service.rules = await asyncio.to_thread(
            compile_servable, rules, version, self.conditions, self.max_operations
        )
        self.conditions.retain(r.condition for r in rules)
        self.version = version
        VERSION.set(version)
        OPERATIONS.set(self.service.rules.operations)
        for mode in RULE_MODES:
            RULES.labels(mode).set(sum(r.mode == mode for r in self.service.rules.rules))
        log.info("rules: version %d in service (%d rules)", version, len(self.service.rules.rules))


def compile_servable(
    rules: Sequence[Rule],
    version: int,
    compiler: Compile = check_condition,
    max_operations: int | None = None,
) -> RuleSet:
    """The rule set, without any stored rule this release cannot compile (a feature renamed
    since it was written, say) and, in priority order, without a rule that would take the
    set past `max_operations` (written before the bound was lowered): each left out is
    logged and counted, the others serve. Compiles each condition once (`compiler`: a
    ConditionCache, or check_condition)."""
    good, spent = [], 0
    for rule in sorted(rules, key=lambda r: (r.priority, r.id)):
        try:
            operations = rule.check(compiler).operations
        except RuleError as exc:
            REFUSED.inc()
            log.error(
                "rules: rule %r (version %d) does not compile: %s", rule.id, rule.version, exc
            )
            continue
        if max_operations is not None and spent + operations > max_operations:
            REFUSED.inc()
            log.error(
                "rules: rule %r (version %d) is left out: with its %d operations the rule set "
                "would apply %d per batch, past FRAUD_MAX_RULE_SET_OPERATIONS (%d)",
                rule.id,
                rule.version,
                operations,
                spent + operations,
                max_operations,
            )
            continue
        spent += operations
        good.append(rule)
    return RuleSet.compile(good, version, compiler)


def rule_set_operations(rules: Sequence[Rule], compiler: Compile = check_condition) -> int:
    """The operations these rules apply to each batch together (a rule that does not
    compile is never served: it counts none)."""
    spent = 0
    for rule in rules:
        try:
            spent += rule.check(compiler).operations
        except RuleError:
            continue
    return spent
