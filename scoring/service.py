"""Scoring, independent of HTTP: windows from Redis, features, compiled ensemble,
tier, decision, reasons.

Two stages, each coalescing concurrent requests:
- store: requests waiting are sent to Redis as one batch (one round trip), several
  batches in flight, so a request never waits for another batch's round trip;
- compute: one worker scores, in one features pass and one model call, every request
  whose windows have arrived since it last ran. The compute step's fixed cost (a
  millisecond or so of numpy calls, whatever the batch size) is then paid once per
  busy moment instead of once per round trip; at light load it runs per request.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from redis.exceptions import RedisError

from ensemble.bundle import ModelBundle
from features.online import OnlineTransaction, online_matrix, request_only_matrix
from features.redis_store import RedisWindowStore
from features.window_format import WindowRead
from scoring import telemetry
from scoring.decision import Decision
from scoring.transaction import Transaction

log = logging.getLogger(__name__)
SLOW_CALLS_BEFORE_SKIPPING = 3


class ModelHolder:
    """The bundle in service; a reload swaps it atomically, requests in flight keep theirs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.bundle: ModelBundle | None = None
        self._lock = asyncio.Lock()

    @property
    def ready(self) -> bool:
        return self.bundle is not None and self.bundle.ready

    async def reload(self) -> ModelBundle:
        async with self._lock:
            try:
                bundle = await asyncio.to_thread(ModelBundle.load, self.path)
            except Exception:
                telemetry.MODEL_RELOADS.labels("failed").inc()
                raise
            self.bundle = bundle
            telemetry.MODEL_RELOADS.labels("loaded").inc()
            log.info("model %s loaded from %s", bundle.version, self.path)
            return bundle


@dataclass(slots=True)
class _Pending:
    transaction: Transaction
    received_ns: int
    future: asyncio.Future[Decision]
    online: OnlineTransaction = field(init=False)

    def __post_init__(self) -> None:
        self.online = self.transaction.online()


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


class ScoringService:
    def __init__(
        self,
        store: RedisWindowStore,
        models: ModelHolder,
        config: ScoringConfig,
        audit: Callable[[Transaction, Decision], None] | None = None,
    ) -> None:
        self.store = store
        self.audit = audit
        self.models = models
        self.config = config
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._computer: asyncio.Task[None] | None = None
        self._unsaved: list[tuple[str, bytes]] = []  # answers not yet stored for retries
        self._flush_pending = False
        self._inflight: set[asyncio.Task[None]] = set()
        # Requests whose windows are read (or None: degraded), waiting for the compute worker.
        self._computable: list[tuple[_Pending, WindowRead | None]] = []
        self._wake_computer = asyncio.Event()
        self._reading: set[int] = set()  # store batches waiting for Redis, by number
        self._batch_numbers = itertools.count()
        self._store_down_until = 0.0
        self._slow_in_row = 0

    async def start(self) -> None:
        self._worker = asyncio.create_task(self._run(), name="scoring-batches")
        self._computer = asyncio.create_task(self._compute_loop(), name="scoring-compute")

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        await asyncio.gather(*self._inflight, return_exceptions=True)
        if self._computer is not None:
            self._computer.cancel()
            await asyncio.gather(self._computer, return_exceptions=True)
        self._compute_ready()  # whatever the worker had not reached yet
        await asyncio.gather(*self._inflight, return_exceptions=True)  # flushes it started
        await self._flush_responses()

    async def score(self, transaction: Transaction, received_ns: int | None = None) -> Decision:
        """The decision for one transaction (a retried id gets the stored one, byte for byte)."""
        future: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(transaction, received_ns or time.perf_counter_ns(), future))
        return await future

    async def _run(self) -> None:
        # Several store batches in flight: while one waits for Redis, the next is sent.
        slots = asyncio.Semaphore(self.config.max_inflight)
        while True:
            await slots.acquire()
            batch = [await self._queue.get()]
            while len(batch) < self.config.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            task = asyncio.create_task(self._batch(batch))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
            task.add_done_callback(lambda _t: slots.release())

    async def _batch(self, batch: list[_Pending]) -> None:
        """The store stage: one round trip, retries answered, the rest handed to compute."""
        try:
            if self.models.bundle is None:
                raise RuntimeError("no model loaded")
            number = next(self._batch_numbers)
            self._reading.add(number)
            try:
                reads = await self._read_windows(batch)
            finally:
                self._reading.discard(number)
        except Exception as exc:  # never leave a caller waiting
            log.exception("scoring batch failed")
            _fail(batch, exc)
            return
        for i, p in enumerate(batch):
            stored = None if reads is None else reads[i].stored_response
            if stored is not None:
                telemetry.RETRIES.inc()
                p.future.set_result(Decision.from_json(stored))
            else:
                self._computable.append((p, None if reads is None else reads[i]))
        self._wake_computer.set()

    async def _compute_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake_computer.wait()
            self._wake_computer.clear()
            # Round trips already out will land soon: wait for them (at most the linger) so
            # one computation serves them all instead of one each. Not for the ones sent
            # while waiting: under a steady stream there is always one out, and waiting for
            # it would leave the loop idle and every request later.
            out = frozenset(self._reading)
            deadline = loop.time() + self.config.compute_linger_s
            while not out.isdisjoint(self._reading) and (left := deadline - loop.time()) > 0:
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._wake_computer.wait(), left)
                self._wake_computer.clear()
            self._compute_ready()
            if self._unsaved and not self._flush_pending:
                # The answers ride on the next store batch (its script stores them before
                # reading); if none leaves within the linger, they go on their own.
                self._flush_pending = True
                task = asyncio.create_task(self._flush_later())
                self._inflight.add(task)
                task.add_done_callback(self._inflight.discard)

    def _compute_ready(self) -> None:
        """Score every request whose windows have arrived, together (no await inside)."""
        items, self._computable = self._computable, []
        if not items:
            return
        try:
            self._answer(items)
        except Exception as exc:  # never leave a caller waiting
            log.exception("scoring batch failed")
            _fail([p for p, _ in items], exc)

    async def _read_windows(self, batch: list[_Pending]) -> list[WindowRead] | None:
        """One round trip for the whole batch, or None (degraded) if the store fails or is slow."""
        now = time.monotonic()
        if now < self._store_down_until:
            telemetry.DEGRADED.labels("store_recently_failed").inc(len(batch))
            return None
        responses, self._unsaved = self._unsaved, []
        started = time.perf_counter()
        try:
            reads = await asyncio.wait_for(
                self.store.read_and_record([p.online.event for p in batch], responses),
                self.config.budget_s,
            )
        except (TimeoutError, RedisError, OSError) as exc:
            slow = isinstance(exc, TimeoutError)
            cause = "timeout" if slow else "error"
            log.warning("feature store %s: %r; answering degraded", cause, exc)
            telemetry.DEGRADED.labels(cause).inc(len(batch))
            self._unsaved[:0] = (
                responses  # keep the answers for retries; the next batch carries them
            )
            # A single slow call degrades only its batch; an error, or several slow calls in a
            # row, means the store is unwell: skip it for a while instead of waiting on it.
            self._slow_in_row = self._slow_in_row + 1 if slow else 0
            if not slow or self._slow_in_row >= SLOW_CALLS_BEFORE_SKIPPING:
                self._store_down_until = time.monotonic() + self.config.retry_after_s
            return None
        self._slow_in_row = 0
        telemetry.FEATURE_STORE_SECONDS.observe(time.perf_counter() - started)
        return reads

    def _answer(self, items: list[tuple[_Pending, WindowRead | None]]) -> None:
        bundle = self.models.bundle
        if bundle is None:
            raise RuntimeError("no model loaded")
        telemetry.BATCH_SIZE.observe(len(items))
        # Rows with windows first, then the degraded ones (request-only features).
        items.sort(key=lambda item: item[1] is None)
        full = [(p.online, read) for p, read in items if read is not None]
        degraded_txs = [p.online for p, read in items if read is None]
        started = time.perf_counter()
        parts = []
        if full:
            parts.append(online_matrix([t for t, _ in full], [r for _, r in full]))
        if degraded_txs:
            parts.append(request_only_matrix(degraded_txs))
        matrix = parts[0] if len(parts) == 1 else np.concatenate(parts)
        scored_at = time.perf_counter()
        telemetry.FEATURES_SECONDS.observe(scored_at - started)
        scores = bundle.score(matrix)
        telemetry.INFERENCE_SECONDS.observe(time.perf_counter() - scored_at)
        # Reasons cost a SHAP pass: only where someone will look at them, all in one call.
        explain = (
            [k for k in range(len(items)) if scores.risk_tier[k] != "low"]
            if self.config.reasons
            else []
        )
        explained = dict(
            zip(explain, bundle.reasons_many(matrix[explain], self.config.reasons), strict=True)
        )
        for k, (p, read) in enumerate(items):
            degraded = read is None
            tier = str(scores.risk_tier[k])
            decision = self.config.decisions[tier]
            if degraded and self.config.degraded_policy != "score":
                decision = self.config.degraded_policy
            score = float(scores.score[k])
            telemetry.SCORE.observe(score)
            telemetry.DECISIONS.labels(tier, decision).inc()
            answer = Decision(
                transaction_id=p.transaction.transaction_id,
                score=score,
                risk_tier=tier,
                decision=decision,
                reasons=tuple(explained.get(k, ())),
                components={
                    "xgboost": float(scores.xgboost[k]),
                    "isolation_forest": float(scores.isolation_forest[k]),
                },
                model_version=bundle.version,
                degraded=degraded,
                latency_ms=round((time.perf_counter_ns() - p.received_ns) / 1e6, 3),
            )
            if not degraded:
                self._unsaved.append((answer.transaction_id, answer.json))
            telemetry.SCORE_LATENCY.observe((time.perf_counter_ns() - p.received_ns) / 1e9)
            p.future.set_result(answer)
            if self.audit is not None:
                self.audit(p.transaction, answer)  # an in-memory enqueue; Kafka is never awaited

    async def _flush_later(self) -> None:
        try:
            await asyncio.sleep(self.config.compute_linger_s)
        finally:
            self._flush_pending = False
        await self._flush_responses()

    async def _flush_responses(self) -> None:
        """Store answers for retries that no store batch has carried."""
        if not self._unsaved:
            return
        responses, self._unsaved = self._unsaved, []
        try:
            await asyncio.wait_for(self.store.save_responses(responses), self.config.budget_s * 4)
        except (TimeoutError, RedisError, OSError) as exc:
            log.warning("could not store %d responses for retries: %r", len(responses), exc)


def _fail(pending: list[_Pending], exc: BaseException) -> None:
    telemetry.FAILED.inc(len(pending))
    for p in pending:
        if not p.future.done():
            p.future.set_exception(exc)
