"""Every API process applies the current rules within a second of a change: it polls the
rule set's version in PostgreSQL (one indexed max() every FRAUD_RULES_SYNC_MS) and, when it
moved, loads and compiles the rules once and swaps them into the scoring service. A write
through this process wakes its poll at once. PostgreSQL unreachable: the rules in service
stay, and the poll goes on."""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

from prometheus_client import Counter, Gauge

from controls.ruleset import Rule, RuleError, RuleSet
from persistence.database import Database, DatabaseUnavailable
from persistence.rules import load_rules, rule_set_version
from scoring.service import ScoringService

log = logging.getLogger(__name__)
VERSION = Gauge("fraud_rules_version", "The rule set's version in service", multiprocess_mode="max")
RULES = Gauge("fraud_rules", "Rules in service, by mode", ["mode"], multiprocess_mode="max")
REFUSED = Counter("fraud_rules_not_compiled_total", "Stored rules this release cannot compile")


class RuleSync:
    def __init__(self, database: Database, service: ScoringService, interval_s: float) -> None:
        self.database = database
        self.service = service
        self.interval_s = interval_s
        self.version = -1  # nothing loaded yet: the first poll loads
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="rule sync")

    def soon(self) -> None:
        """Poll now (this process just wrote a change)."""
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self.sync()
                if self._failing:
                    log.info("rules: PostgreSQL reachable again, rule set version %d", self.version)
                self._failing = False
            except (DatabaseUnavailable, OSError, TimeoutError) as exc:
                if not self._failing:
                    log.warning(
                        "rules: cannot poll PostgreSQL (%r); the rules in service stay", exc
                    )
                self._failing = True
            except Exception:
                log.exception("rules: sync failed; the rules in service stay")
            with suppress(TimeoutError):
                async with asyncio.timeout(self.interval_s):
                    await self._wake.wait()
            self._wake.clear()

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
