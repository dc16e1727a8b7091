"""Scoring, independent of transport: a Transaction in, a Decision out.

The service joins the parts: the two coalescing stages (batching.py), the store
stage's round trip with its circuit breaker (breaker.py) and the answers stored for
retries (retry_cache.py), and the compute stage (deciding.py) on the model in service
(models.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from controls.ruleset import RuleSet
from features.online import OnlineTransaction
from features.redis_store import STORE_ERRORS, RedisWindowStore
from features.window_format import WindowRead
from scoring import telemetry
from scoring.batching import Batcher
from scoring.breaker import StoreBreaker
from scoring.deciding import NO_RULES, DecisionPolicy, decide
from scoring.decision import Decision
from scoring.event_time import EventTimePolicy
from scoring.models import ModelHolder
from scoring.retry_cache import RetryCache
from scoring.transaction import RequestFields, Transaction

log = logging.getLogger(__name__)


class IdempotencyConflict(Exception):
    """The transaction id was already used, by the same caller, for another request."""


@dataclass(slots=True)
class _Pending:
    transaction: Transaction
    received_ns: int
    future: asyncio.Future[Decision]
    scope: str = ""
    online: OnlineTransaction = field(init=False)

    def __post_init__(self) -> None:
        self.online = self.transaction.online(self.scope)


@dataclass(slots=True)
class ScoringConfig:
    budget_s: float
    retry_after_s: float
    degraded_policy: str
    decisions: dict[str, str]
    max_batch: int
    reasons: int
    max_inflight: int = 4
    compute_linger_s: float = 0.003
    event_time: EventTimePolicy = field(default_factory=EventTimePolicy)


class ScoringService:
    def __init__(
        self,
        store: RedisWindowStore,
        models: ModelHolder,
        config: ScoringConfig,
        audit: Callable[[Transaction, Decision, str], None] | None = None,
    ) -> None:
        self.store = store
        self.audit = audit
        self.models = models
        self.config = config
        self.policy = DecisionPolicy(config.decisions, config.degraded_policy)
        # The rules in service, swapped whole when a new version is compiled (app.rule_sync).
        self.rules: RuleSet = NO_RULES
        self.breaker = StoreBreaker(config.retry_after_s)
        self.answers = RetryCache(
            lambda answers: self.store.save_responses(answers),
            config.compute_linger_s,
            config.budget_s * 4,
        )
        self.batcher: Batcher[_Pending, WindowRead | None] = Batcher(
            self._read,
            self._compute,
            _fail,
            max_batch=config.max_batch,
            max_inflight=config.max_inflight,
            linger_s=config.compute_linger_s,
            after_compute=self._store_answers_later,
        )

    async def start(self) -> None:
        await self.batcher.start()

    async def stop(self) -> None:
        await self.batcher.stop()
        await self.answers.flush()

    async def score(
        self, transaction: Transaction, received_ns: int | None = None, scope: str = ""
    ) -> Decision:
        """The decision for one transaction. `scope` is the caller's (its API key's id): a
        transaction id retried in its scope with the same request gets the stored decision,
        byte for byte; with another request, IdempotencyConflict. A live timestamp outside
        the trusted bounds raises EventTimeRefused (nothing is read or written)."""
        future: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
        pending = _Pending(transaction, received_ns or time.perf_counter_ns(), future, scope)
        self.config.event_time.check(pending.online.event.ts, time.time_ns() // 1_000_000)
        self.batcher.submit(pending)
        return await future

    async def _read(self, batch: list[_Pending]) -> list[tuple[_Pending, WindowRead | None]]:
        """The store stage: one round trip, retries answered, the rest handed to compute."""
        if self.models.bundle is None:
            raise RuntimeError("no model loaded")
        reads = await self._read_windows(batch)
        computable = []
        for i, p in enumerate(batch):
            read = None if reads is None else reads[i]
            if read is not None and read.conflict:
                p.future.set_exception(
                    IdempotencyConflict(
                        f"transaction_id {p.transaction.transaction_id!r} was already scored "
                        "for a request with other fields; a retry must repeat the request "
                        "exactly, a new transaction needs a new id"
                    )
                )
            elif read is not None and read.stored_response is not None:
                telemetry.RETRIES.inc()
                p.future.set_result(Decision.from_json(read.stored_response))
            else:
                computable.append((p, read))
        return computable

    async def _read_windows(self, batch: list[_Pending]) -> list[WindowRead] | None:
        """One round trip for the whole batch, or None (degraded) if the store fails or is slow."""
        if self.breaker.skipping:
            telemetry.DEGRADED.labels("store_recently_failed").inc(len(batch))
            return None
        answers = self.answers.take()  # they ride on this round trip
        started = time.perf_counter()
        try:
            reads = await asyncio.wait_for(
                self.store.read_and_record([p.online.event for p in batch], answers),
                self.config.budget_s,
            )
        except STORE_ERRORS as exc:  # a timeout too (TimeoutError is an OSError)
            slow = isinstance(exc, TimeoutError)
            cause = "timeout" if slow else "error"
            log.warning("feature store %s: %r; answering degraded", cause, exc)
            telemetry.DEGRADED.labels(cause).inc(len(batch))
            self.answers.give_back(answers)
            self.breaker.failed(slow)
            return None
        self.breaker.succeeded()
        telemetry.FEATURE_STORE_SECONDS.observe(time.perf_counter() - started)
        return reads

    def _compute(self, items: list[tuple[_Pending, WindowRead | None]]) -> None:
        """The compute stage: every request read so far, in one features pass and one model
        call (no await inside)."""
        bundle = self.models.bundle
        if bundle is None:
            raise RuntimeError("no model loaded")
        items.sort(key=lambda item: item[1] is None)  # as deciding orders rows: full first
        rules = self.rules
        decisions = decide(
            bundle,
            self.policy,
            self.config.reasons,
            [p.online for p, _ in items],
            [read for _, read in items],
            [p.received_ns for p, _ in items],
            rules,
            [RequestFields(p.transaction) for p, _ in items] if rules.rules else (),
        )
        for (p, _), decision in zip(items, decisions, strict=True):
            if not decision.degraded:
                self.answers.add(*self.store.stored_answer(p.online.event, decision.json))
            telemetry.SCORE_LATENCY.observe((time.perf_counter_ns() - p.received_ns) / 1e9)
            p.future.set_result(decision)
            if self.audit is not None:
                self.audit(p.transaction, decision, p.scope)  # in memory; Kafka is never awaited

    def _store_answers_later(self) -> None:
        # The answers ride on the next store batch; if none leaves within the linger, they
        # go on their own.
        if self.answers.flush_due():
            self.batcher.spawn(self.answers.flush_later())


def _fail(pending: list[_Pending], exc: BaseException) -> None:
    telemetry.FAILED.inc(len(pending))
    for p in pending:
        if not p.future.done():
            p.future.set_exception(exc)
