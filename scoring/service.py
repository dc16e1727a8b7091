"""Scoring, independent of transport: a Transaction in, a Decision out.

The service joins the parts: the two coalescing stages (batching.py), the store
stage's round trip with its circuit breaker (breaker.py) and the answers stored for
retries (retry_cache.py), and the compute stage (deciding.py) on the model in service
(models.py).

A transaction id is scored once in its scope, however its copies arrive: a copy sent while
the first is in flight in this process waits for the first's answer (same bytes, one audit
event); a copy whose first is in flight in another process (the store says it was recorded
but its answer is not stored yet) asks the store again, backing off, until that answer is
stored or FRAUD_RETRY_WAIT_MS has passed (then the first is presumed lost, with its process,
and the copy is scored from the windows it read, without counting it again).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from controls.ruleset import RuleSet
from features.online import OnlineTransaction
from features.redis_store import STORE_ERRORS
from features.store import ScoringStore
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


class AuditUnavailable(Exception):
    """The decisions could not be recorded where the audit must hold them before they are
    answered (the durable audit log): they are not answered."""


# What the service hands each computed batch's decisions to (app.audit): it calls the
# second argument once it holds them, with None (at once when it holds them in memory;
# once they are on the disk with the durable log) or with the error that kept them from
# being recorded. The answers wait for that call; after an error they are not answered
# (AuditUnavailable).
Recorded = Callable[[BaseException | None], None]
Audit = Callable[[list[tuple[Transaction, Decision, str]], Recorded], None]


@dataclass(slots=True)
class _Pending:
    transaction: Transaction
    received_ns: int
    future: asyncio.Future[Decision]
    scope: str = ""
    online: OnlineTransaction = field(init=False)
    # Store round trips that found its first copy's answer not stored yet, and the last one's
    # read (what it is scored from if that answer does not come).
    asked: int = 0
    last_read: WindowRead | None = None
    # The copies of it that arrived while it was in flight, each awaited by its own caller
    # (a caller that goes away cancels its own future only).
    copies: list[asyncio.Future[Decision]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.online = self.transaction.online(self.scope)

    @property
    def key(self) -> tuple[str, str]:
        return self.scope, self.transaction.transaction_id

    def answer(self, decision: Decision) -> None:
        for future in (self.future, *self.copies):
            if not future.done():
                future.set_result(decision)

    def refuse(self, exc: BaseException) -> None:
        for future in (self.future, *self.copies):
            if not future.done():
                future.set_exception(exc)


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
    # How long answers wait to ride on the next store round trip before going on their own.
    answer_linger_s: float = 0.05
    event_time: EventTimePolicy = field(default_factory=EventTimePolicy)
    # How long a copy whose first is in flight elsewhere waits for the first's answer.
    retry_wait_s: float = 1.0


class ScoringService:
    def __init__(
        self,
        store: ScoringStore,
        models: ModelHolder,
        config: ScoringConfig,
        audit: Audit | None = None,
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
            config.answer_linger_s,
            config.budget_s * 4,
        )
        self.batcher: Batcher[_Pending, WindowRead | None] = Batcher(
            self._read,
            self._compute,
            self._fail,
            max_batch=config.max_batch,
            max_inflight=config.max_inflight,
            linger_s=config.compute_linger_s,
            after_compute=self._store_answers_later,
        )
        # Requests in flight by (scope, transaction id): a copy of one waits for its answer.
        self._in_flight: dict[tuple[str, str], _Pending] = {}
        # Copies asking the store again later (their first is in flight in another process).
        self._asking_again: dict[tuple[str, str], tuple[_Pending, asyncio.TimerHandle]] = {}
        # Computed batches waiting for the audit to hold them (the durable log's sync).
        self._recording = 0
        self._all_recorded = asyncio.Event()
        self._all_recorded.set()
        self._stopping = False

    async def start(self) -> None:
        await self.batcher.start()

    async def stop(self) -> None:
        self._stopping = True
        # Copies still waiting for another process's answer are scored from what they read.
        waiting = list(self._asking_again.values())
        self._asking_again.clear()
        for _, timer in waiting:
            timer.cancel()
        if waiting:
            try:
                self._compute([(p, p.last_read) for p, _ in waiting])
            except Exception as exc:  # never leave a caller waiting
                self._fail([p for p, _ in waiting], exc)
        await self.batcher.stop()
        await self._all_recorded.wait()  # their answers, then stored for retries below
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
        first = self._in_flight.get(pending.key)
        if first is not None:  # a copy: the first's answer, once it has one
            if first.online.event.fingerprint != pending.online.event.fingerprint:
                raise _conflict(transaction.transaction_id)
            telemetry.RETRIES.inc()
            first.copies.append(future)
            return await future
        self._in_flight[pending.key] = pending
        if self.batcher.idle:
            try:
                await self.batcher.run_now(pending)  # answers the future, or fails it
            except asyncio.CancelledError:
                if future.done() and not future.cancelled():
                    future.exception()  # failed for the copies; this caller is gone
                raise
        else:
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
                self._refuse([p], _conflict(p.transaction.transaction_id))
            elif read is not None and read.stored_response is not None:
                telemetry.RETRIES.inc()
                self._release(p)
                p.answer(Decision.from_json(read.stored_response))
            elif read is not None and read.answer_pending and self._ask_again_later(p):
                p.last_read = read
            else:
                computable.append((p, read))
        return computable

    def _ask_again_later(self, p: _Pending) -> bool:
        """Another process recorded this transaction and has not stored its answer yet: ask
        the store again after a pause (2, 4, 8 ... ms) while FRAUD_RETRY_WAIT_MS allows;
        False once it does not (the copy is then scored from the windows it read)."""
        waited_s = (time.perf_counter_ns() - p.received_ns) / 1e9
        pause_s = min(0.002 * 2**p.asked, 0.05)
        if waited_s + pause_s > self.config.retry_wait_s:
            return False
        p.asked += 1

        def again() -> None:
            del self._asking_again[p.key]
            self.batcher.submit(p)

        timer = asyncio.get_running_loop().call_later(pause_s, again)
        self._asking_again[p.key] = (p, timer)
        return True

    async def _read_windows(self, batch: list[_Pending]) -> list[WindowRead] | None:
        """One round trip for the whole batch, or None (degraded) if the store fails or is slow."""
        if self.breaker.skipping:
            telemetry.DEGRADED.labels("store_recently_failed").inc(len(batch))
            return None
        answers = self.answers.take()  # they ride on this round trip
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.config.budget_s):  # no task of its own
                reads = await self.store.read_and_record([p.online.event for p in batch], answers)
        except asyncio.CancelledError:
            self.answers.give_back(answers)
            raise
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
            self.models.drift,
            self.models.challenger,
        )
        computed = [(p, decision) for (p, _), decision in zip(items, decisions, strict=True)]
        if self.audit is None:
            self._answer(computed)
            return
        self._recording += 1
        self._all_recorded.clear()
        self.audit(
            [(p.transaction, d, p.scope) for p, d in computed],
            lambda failure: self._recorded(computed, failure),
        )

    def _recorded(
        self, computed: list[tuple[_Pending, Decision]], failure: BaseException | None
    ) -> None:
        """The audit holds the batch (at once in memory; after the sync with the log)."""
        self._recording -= 1
        if not self._recording:
            self._all_recorded.set()
        if failure is not None:
            refused = AuditUnavailable(f"the decision could not be recorded: {failure}")
            self._refuse([p for p, _ in computed], refused)
            return
        self._answer(computed)
        if not self._stopping:  # else stop() stores them
            self._store_answers_later()

    def _answer(self, computed: list[tuple[_Pending, Decision]]) -> None:
        for p, decision in computed:
            if not decision.degraded:
                self.answers.add(*self.store.stored_answer(p.online.event, decision.json))
            telemetry.SCORE_LATENCY.observe((time.perf_counter_ns() - p.received_ns) / 1e9)
            self._release(p)
            p.answer(decision)

    def _refuse(self, pending: list[_Pending], exc: BaseException) -> None:
        for p in pending:
            self._release(p)
            p.refuse(exc)

    def _release(self, p: _Pending) -> None:
        """Answered or refused: a later copy is a retry, for the store to answer."""
        if self._in_flight.get(p.key) is p:
            del self._in_flight[p.key]

    def _fail(self, pending: list[_Pending], exc: BaseException) -> None:
        """A stage raised: its requests get the error (none is left waiting)."""
        telemetry.FAILED.inc(len(pending))
        self._refuse(pending, exc)

    def _store_answers_later(self) -> None:
        # The answers ride on the next store batch; if none leaves within the linger, they
        # go on their own.
        if self.answers.flush_due():
            self.batcher.spawn(self.answers.flush_later())


def _conflict(transaction_id: str) -> IdempotencyConflict:
    return IdempotencyConflict(
        f"transaction_id {transaction_id!r} was already scored for a request with other "
        "fields; a retry must repeat the request exactly, a new transaction needs a new id"
    )
