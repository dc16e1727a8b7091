"""Every API process applies the current rules within a second of a change: it polls the
rule set's version in PostgreSQL (one indexed max() every FRAUD_RULES_SYNC_MS) and, when it
moved, loads and compiles the rules once and swaps them into the scoring service. A write
through this process wakes its poll at once. PostgreSQL unreachable: the rules in service
stay (the failure is logged once), and the poll goes on."""

from __future__ import annotations

import logging

from prometheus_client import Counter, Gauge

from app.periodic import Periodic
from controls.ruleset import Rule, RuleError, RuleSet
from persistence.database import Database, DatabaseUnavailable
from persistence.rules import load_rules, rule_set_version
from scoring.service import ScoringService

log = logging.getLogger(__name__)
VERSION = Gauge("fraud_rules_version", "The rule set's version in service", multiprocess_mode="max")
RULES = Gauge("fraud_rules", "Rules in service, by mode", ["mode"], multiprocess_mode="max")
REFUSED = Counter("fraud_rules_not_compiled_total", "Stored rules this release cannot compile")


class RuleSync(Periodic):
    name = "rule sync"
    EXPECTED = (DatabaseUnavailable, OSError, TimeoutError)

    def __init__(self, database: Database, service: ScoringService, interval_s: float) -> None:
        super().__init__(interval_s)
        self.database = database
        self.service = service
        self.version = -1  # nothing loaded yet: the first poll loads

    async def step(self) -> None:
        await self.sync()

    async def sync(self) -> None:
        async with self.database.connection() as conn:
            if await rule_set_version(conn) == self.version:
                return
            version, stored = await load_rules(conn)
        self.service.rules = compile_servable([s.rule for s in stored], version)
        self.version = version
        VERSION.set(version)
        for mode in ("active", "shadow"):
            RULES.labels(mode).set(sum(r.mode == mode for r in self.service.rules.rules))
        log.info("rules: version %d in service (%d rules)", version, len(self.service.rules.rules))


def compile_servable(rules: list[Rule], version: int) -> RuleSet:
    """The rule set, without any stored rule this release cannot compile (a feature renamed
    since it was written, say): that one is logged and counted, the others serve."""
    good = []
    for rule in rules:
        try:
            RuleSet.compile([rule], version)
        except RuleError as exc:
            REFUSED.inc()
            log.error(
                "rules: rule %r (version %d) does not compile: %s", rule.id, rule.version, exc
            )
            continue
        good.append(rule)
    return RuleSet.compile(good, version)
