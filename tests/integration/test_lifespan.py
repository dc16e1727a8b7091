"""The API process's start and stop (app/lifespan.py) against real Redis, PostgreSQL and
a Kafka-protocol broker: a start-up that fails half-way stops and closes what it had built,
in reverse order, and its error still propagates (uvicorn then exits non-zero); a normal
stop keeps its order."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi import FastAPI

from app import lifespan as lifespan_module
from app.lifespan import lifespan, redis_client
from app.settings import Settings
from localservers import TansuBroker
from persistence.log_slots import claim
from tests.integration.conftest import make_settings
from tests.pg import DATABASE_URL

# The scoring service stops before the audit, so its last decisions are shipped; the
# Redis client closes last, after everything that uses it.
STOP_ORDER = [
    "live feed",
    "rate limiter",
    "rule sync",
    "list sync",
    "model watch",
    "scoring service",
    "audit",
    "labels producer",
    "database pool",
    "redis client",
]


@pytest.fixture
def stopped(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the lifespan's shutdown steps, in the order they ran."""
    names: list[str] = []
    real = lifespan_module.stop_step

    async def recorded(name: str, *args: Any) -> None:
        names.append(name)
        await real(name, *args)

    monkeypatch.setattr(lifespan_module, "stop_step", recorded)
    return names


@pytest.fixture
def settings(
    broker: TansuBroker, redis_url: str, prefix: str, bundle_dir: Path, tmp_path: Path, schema: str
) -> Settings:
    """Every client the lifespan can build: Kafka (the audit, its durable log, the labels
    producer, the live feed), PostgreSQL, Redis, the model watch."""
    return make_settings(
        redis_url,
        prefix,
        bundle_dir,
        kafka_bootstrap_servers=broker.bootstrap,
        audit_idempotence=False,  # tansu refuses InitProducerId
        audit_durability="log",
        audit_log_dir=tmp_path / "audit-log",
        spool_path=tmp_path / "audit.spool",
        database_url=DATABASE_URL,
        database_schema=schema,
        shutdown_step_timeout_s=5.0,
    )


@pytest.fixture
def redis_admin(redis_url: str) -> Iterator[redis.Redis]:
    """One connection, open throughout, that counts the server's clients (itself included)."""
    with redis.Redis.from_url(redis_url) as admin:
        yield admin


@dataclass
class Outcome:
    error: BaseException | None  # what came out of the lifespan
    left: set[asyncio.Task[Any]]  # the tasks it left behind
    connections_left: int  # the Redis connections it left open


def run_lifespan(
    settings: Settings, redis_admin: redis.Redis, body: Callable[[FastAPI], Awaitable[None]]
) -> Outcome:
    """Starts the lifespan, runs `body` while it serves, stops."""
    connections = len(redis_admin.client_list())

    async def run() -> Outcome:
        before = asyncio.all_tasks()
        error: BaseException | None = None
        try:
            app = FastAPI()
            async with lifespan(settings, redis_client)(app):
                await body(app)
        except Exception as exc:
            error = exc
        left = asyncio.all_tasks() - before
        # Still in the loop, the error's traceback keeping alive what a failed start-up
        # left open; the server sees a closed connection go a moment later.
        deadline = asyncio.get_running_loop().time() + 10
        while (opened := len(redis_admin.client_list()) - connections) and (
            asyncio.get_running_loop().time() < deadline
        ):
            await asyncio.sleep(0.05)
        return Outcome(error, left, opened)

    return asyncio.run(run())


def assert_slot_free(audit_log_dir: Path) -> None:
    """The audit log's slot was let go: the next process takes slot 0 again."""
    slot = claim(audit_log_dir)
    try:
        assert slot.path.name == "0"
    finally:
        slot.release()


def test_a_normal_stop_stops_every_client_in_order(
    settings: Settings, redis_admin: redis.Redis, stopped: list[str]
) -> None:
    async def serve(app: FastAPI) -> None:
        async with app.state.database.connection() as conn:  # the pool open
            assert await conn.fetchval("SELECT 1") == 1

    outcome = run_lifespan(settings, redis_admin, serve)
    assert outcome.error is None
    assert stopped == STOP_ORDER
    assert not outcome.left, outcome.left
    assert outcome.connections_left == 0
    assert_slot_free(settings.audit_log_dir)


def test_a_start_up_failing_at_its_end_stops_every_client_it_started(
    settings: Settings,
    redis_admin: redis.Redis,
    stopped: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def fail() -> None:
        raise RuntimeError("a late step of the start-up failed")

    # One of the last steps: every client but the live feed (made next, started by the
    # first stream client) is built and started by then.
    monkeypatch.setattr(lifespan_module, "tune_gc", fail)

    async def never(_app: FastAPI) -> None:
        raise AssertionError("served after a failed start-up")

    outcome = run_lifespan(settings, redis_admin, never)
    assert isinstance(outcome.error, RuntimeError)
    assert str(outcome.error) == "a late step of the start-up failed"
    assert stopped == STOP_ORDER[1:]
    # None of the producers', the batcher's, the syncs' or the watch's tasks.
    assert not outcome.left, outcome.left
    assert outcome.connections_left == 0  # prepare_store opened them
    assert_slot_free(settings.audit_log_dir)


def test_a_start_up_failing_half_way_closes_what_it_had_built(
    settings: Settings, redis_admin: redis.Redis, stopped: list[str]
) -> None:
    # The audit log cannot be made (a file where its directory should be): found after
    # the model loaded, the Redis connections opened (prepare_store) and the labels
    # producer started, before anything else was built.
    settings.audit_log_dir.write_text("not a directory")

    async def never(_app: FastAPI) -> None:
        raise AssertionError("served after a failed start-up")

    outcome = run_lifespan(settings, redis_admin, never)
    assert isinstance(outcome.error, NotADirectoryError)
    assert stopped == ["labels producer", "database pool", "redis client"]
    assert not outcome.left, outcome.left
    assert outcome.connections_left == 0
