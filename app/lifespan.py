"""The API process's life: every client built once at start (Redis, the model, the audit
producers, PostgreSQL, the scoring service, the live feed), handed to handlers through
app.state (app/deps.py), and closed at stop; the garbage collector tuned, SIGHUP bound
to a model reload."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import (
    AbstractAsyncContextManager,
    AsyncExitStack,
    asynccontextmanager,
    contextmanager,
    suppress,
)
from functools import partial

import redis.asyncio as redis
from fastapi import FastAPI
from redis.asyncio.cluster import RedisCluster

from app import logs
from app.audit import DecisionAudit, audit_producer
from app.backtests import Backtests
from app.drift_metrics import DRIFT
from app.list_sync import ListSync
from app.model_watch import ModelWatch
from app.queue_metrics import QUEUE
from app.rate_limit import RateLimiter
from app.rule_sync import RuleSync
from app.settings import Settings
from controls.list_store import RedisListStore
from features.cluster_store import ClusterWindowStore, is_cluster_url, node_url
from features.redis_store import HiredisPackedConnection, RedisClient, RedisWindowStore
from features.store import WindowStore
from live.buffers import Hub
from live.feed import Feed
from persistence.database import Database
from scoring.drift import DriftConfig
from scoring.event_time import EventTimePolicy
from scoring.models import ModelHolder
from scoring.service import ScoringConfig, ScoringService

log = logging.getLogger(__name__)
GC_YOUNG_THRESHOLD = 10_000
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def redis_client(settings: Settings) -> RedisClient:
    if is_cluster_url(settings.redis_url):
        return cluster_client(settings)
    # A blocking pool sized on purpose: redis-py's default pool raises past 100 connections.
    # Plain TCP connections pack commands with hiredis (TLS and unix sockets keep their own).
    packed = {"connection_class": HiredisPackedConnection}
    pool = redis.BlockingConnectionPool.from_url(
        settings.redis_url,
        **(packed if settings.redis_url.startswith("redis://") else {}),
        max_connections=settings.redis_pool_size,
        timeout=settings.redis_budget_ms / 1000,
        socket_timeout=max(1.0, settings.redis_budget_ms / 1000 * 4),
        socket_connect_timeout=max(0.5, settings.redis_budget_ms / 1000 * 2),
        socket_keepalive=True,
        health_check_interval=30,
    )
    return redis.Redis.from_pool(pool)


def cluster_client(settings: Settings) -> RedisCluster:
    """A Redis Cluster client (FRAUD_REDIS_URL redis+cluster://host:port, any node): up to
    FRAUD_REDIS_POOL_SIZE connections per node; it learns the slots' owners from the node
    and again after a MOVED reply or a failed node (a failover), without a restart."""
    return RedisCluster.from_url(
        node_url(settings.redis_url),
        max_connections=settings.redis_pool_size,
        socket_timeout=max(1.0, settings.redis_budget_ms / 1000 * 4),
        socket_connect_timeout=max(0.5, settings.redis_budget_ms / 1000 * 2),
        socket_keepalive=True,
        health_check_interval=30,
    )


def window_store(client: RedisClient, settings: Settings) -> WindowStore:
    ttl_ms, replay = settings.response_ttl_s * 1000, settings.event_time == "replay"
    if isinstance(client, RedisCluster):
        return ClusterWindowStore(client, settings.redis_prefix, ttl_ms, replay)
    return RedisWindowStore(client, settings.redis_prefix, ttl_ms, replay)


def lifespan(settings: Settings, make_redis: Callable[[Settings], RedisClient]) -> Lifespan:
    @asynccontextmanager
    async def run(app: FastAPI) -> AsyncIterator[None]:
        # Each client's stop is registered as soon as it is built or started, so a start-up
        # that fails half-way stops exactly what it had built, and its error still
        # propagates. Stops run in reverse order: the build order below is the shutdown
        # order read backwards.
        async with AsyncExitStack() as stack:
            # Each stop bounded: one that hangs is logged by name, and the process still
            # stops (a second SIGTERM does not interrupt the lifespan's shutdown).
            bound = settings.shutdown_step_timeout_s

            def on_stop(name: str, stop: Callable[[], Awaitable[None]]) -> None:
                stack.push_async_callback(stop_step, name, stop, bound)

            client = make_redis(settings)
            # Closed last: the scoring service, the syncs and the limiter use it until they stop.
            on_stop("redis client", client.aclose)
            store = window_store(client, settings)
            # Made (no connection yet: the pool opens on first use) this early to close
            # after the producers and the gauges that query it.
            database = Database(
                settings.database_url, settings.database_schema, settings.database_pool_size
            )
            on_stop("database pool", database.close)
            models = ModelHolder(
                settings.model_dir, drift_config(settings), settings.challenger_model_dir
            )
            await models.reload()
            DRIFT.attach(models)
            stack.callback(DRIFT.detach, models)
            if settings.drift and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
                log.warning(
                    "several workers share one metrics directory, which holds counters and gauges,"
                    " not figures computed when scraped: the drift gauges are not in /metrics"
                    " (GET /v1/model/drift answers with the answering worker's; docs/drift.md)"
                )
            await prepare_store(store, settings)
            QUEUE.attach(asyncio.get_running_loop(), database, settings.case_metrics_cache_s)
            stack.callback(QUEUE.detach, database)
            labels = audit_producer(
                settings, settings.labels_topic, settings.spool_path.with_suffix(".labels.spool")
            )
            if labels is not None:
                await labels.start()
                on_stop("labels producer", labels.stop)
            audit = DecisionAudit(settings) if settings.kafka_bootstrap_servers else None
            if audit is not None:
                await audit.start()
                # After the scoring service, so its last decisions are shipped: within half
                # the bound, the rest kept for the next start.
                on_stop("audit", partial(audit.stop, bound / 2))
            service = ScoringService(
                store,
                models,
                scoring_config(settings),
                audit=None if audit is None else audit.record,
            )
            await service.start()
            on_stop("scoring service", service.stop)
            watch = ModelWatch(models, settings.model_watch_s) if settings.model_watch_s else None
            if watch is not None:
                watch.start()
                on_stop("model watch", watch.stop)
            lists = RedisListStore(client, settings.redis_prefix)
            list_sync = ListSync(lists, database, settings.list_sync_s)
            list_sync.start()  # at once, then every FRAUD_LIST_SYNC_S (app/list_sync.py)
            on_stop("list sync", list_sync.stop)
            rule_sync = RuleSync(
                database,
                service,
                settings.rules_sync_ms / 1000,
                settings.max_rule_set_operations,
                settings.max_rules,
            )
            rule_sync.start()
            on_stop("rule sync", rule_sync.stop)
            limiter = RateLimiter(
                client,
                settings.redis_prefix,
                settings.rate_limit_per_s,
                settings.rate_limit_bucket,
                settings.rate_limit_sync_ms / 1000,
            )
            limiter.start()
            on_stop("rate limiter", limiter.stop)
            tune_gc()
            hub = Hub(settings.stream_client_buffer)
            feed = (  # started when the first stream client connects
                Feed(settings.kafka_bootstrap_servers, settings.audit_topic, hub)
                if settings.kafka_bootstrap_servers
                else None
            )
            if feed is not None:
                on_stop("live feed", feed.stop)
            app.state.settings, app.state.store, app.state.models, app.state.service = (
                settings,
                store,
                models,
                service,
            )
            app.state.database, app.state.labels, app.state.limiter = database, labels, limiter
            app.state.rule_sync, app.state.backtests = rule_sync, Backtests(settings)
            app.state.lists, app.state.list_sync = lists, list_sync
            app.state.model_watch = watch
            app.state.hub, app.state.feed = hub, feed
            if settings.event_time == "replay":
                log.warning(
                    "FRAUD_EVENT_TIME=replay: every request's timestamp is trusted and windows are"
                    " trimmed at it (for tests and backfills, never for live traffic)"
                )
            if not settings.api_key_digests:
                log.warning(
                    "no API keys configured: every scoring request gets 401 (create one with `fraud keys create`)"
                )
            stack.enter_context(reload_on_sighup(models))
            yield

    return run


async def stop_step(name: str, stop: Callable[[], Awaitable[None]], timeout_s: float) -> None:
    try:
        async with asyncio.timeout(timeout_s):
            await stop()
    except TimeoutError:
        log.error("shutdown: the %s did not stop within %g s; stopping without it", name, timeout_s)


async def prepare_store(store: WindowStore, settings: Settings) -> None:
    with suppress(
        Exception
    ):  # Redis may be down at start; requests answer degraded until it is back
        await asyncio.wait_for(store.load_script(), 2.0)
        # Open the connections the store stage will use (one per batch in flight, one
        # for storing answers) now: opened by the first requests, each costs a connect
        # and redis-py's hand-shake commands inside those requests' budget.
        await asyncio.wait_for(store.warm(settings.max_inflight_batches + 1), 2.0)


def scoring_config(settings: Settings) -> ScoringConfig:
    return ScoringConfig(
        budget_s=settings.redis_budget_ms / 1000,
        retry_after_s=settings.redis_retry_after_ms / 1000,
        degraded_policy=settings.degraded_policy,
        decisions=settings.decision_map,
        max_batch=settings.max_batch,
        reasons=settings.reasons,
        max_inflight=settings.max_inflight_batches,
        compute_linger_s=settings.compute_linger_ms / 1000,
        answer_linger_s=settings.answer_linger_ms / 1000,
        retry_wait_s=settings.retry_wait_ms / 1000,
        event_time=EventTimePolicy(
            replay=settings.event_time == "replay",
            max_skew_ms=round(settings.max_clock_skew_s * 1000),
            max_age_ms=round(settings.max_event_age_s * 1000),
        ),
    )


def drift_config(settings: Settings) -> DriftConfig | None:
    if not settings.drift:
        return None
    return DriftConfig(settings.drift_window_s, settings.drift_buckets, settings.drift_min_rows)


def tune_gc() -> None:
    # Long-lived start-up objects (model, routes, schemas) leave the collector's view,
    # so full collections stay short and do not stall requests; and the youngest
    # generation is collected every 10,000 allocations instead of 700 (requests
    # allocate many short-lived objects, few cycles): 4.5% fewer instructions per
    # request (docs/performance.md).
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


@contextmanager
def reload_on_sighup(models: ModelHolder) -> Iterator[None]:
    loop = asyncio.get_running_loop()
    with suppress(NotImplementedError, RuntimeError, ValueError):  # not in the main thread (tests)
        loop.add_signal_handler(
            signal.SIGHUP, lambda: asyncio.ensure_future(_reload_quietly(models))
        )
    try:
        yield
    finally:
        with suppress(NotImplementedError, RuntimeError, ValueError):
            loop.remove_signal_handler(signal.SIGHUP)


async def _reload_quietly(models: ModelHolder) -> None:
    try:
        reloaded = await models.reload()
    except Exception:
        logs.admin_action("reload", None, outcome="failed", by="SIGHUP")
        log.exception("reload on SIGHUP failed; still serving the previous model")
        return
    logs.admin_action("reload", None, outcome="done", by="SIGHUP", **reloaded.versions)
