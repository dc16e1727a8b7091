from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from app.auth import digest
from app.main import create_app
from app.settings import Settings, get_settings
from localservers import TansuBroker, delete_keys
from localservers.redis_cluster import RedisClusterServer
from tests.pg import DATABASE_URL, drop_schema
from tests.servers import shared_redis_url

API_KEY = "fk_integration_test_key"


@pytest.fixture(scope="session")
def redis_url() -> str:
    return shared_redis_url()


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisClusterServer]:
    """A Redis Cluster of the session's own (three masters, one replica each): its tests
    use prefixes of their own, and a failover test leaves it healthy (the promoted
    replicas serve)."""
    cluster = RedisClusterServer().start()
    yield cluster
    cluster.cleanup()


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; its keys are removed afterwards."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    yield name
    delete_keys(redis_url, name)


def make_settings(redis_url: str, prefix: str, model_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "redis_url": redis_url,
        "redis_prefix": prefix,
        "model_dir": model_dir,
        "api_keys": digest(API_KEY),
        "redis_budget_ms": 200.0,  # generous: the test machine is shared
        "redis_retry_after_ms": 0.0,
        # These tests post fixed, historic event times (EXAMPLE's, generated histories'):
        # replayed, explicitly. The live default is tested with event_time="live" and
        # times around the clock (tests/integration/test_event_time.py).
        "event_time": "replay",
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def client(redis_url: str, prefix: str, bundle_dir: Path) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(redis_url, prefix, bundle_dir))) as c:
        c.headers["Authorization"] = f"Bearer {API_KEY}"
        yield c


def keys_of(redis_url: str, prefix: str) -> set[bytes]:
    with redis.Redis.from_url(redis_url) as client:
        return set(client.scan_iter(match=f"{prefix}:*", count=1000))


@pytest.fixture
def schema() -> Iterator[str]:
    """A PostgreSQL schema of this test's own, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:10]}"
    yield name
    drop_schema(name)


@pytest.fixture
def broker() -> Iterator[TansuBroker]:
    """A tansu broker of this test's own (memory storage: its data goes with it)."""
    server = TansuBroker().start()
    yield server
    server.cleanup()


@pytest.fixture
def audited_client(
    broker: TansuBroker,
    redis_url: str,
    prefix: str,
    bundle_dir: Path,
    tmp_path: Path,
    schema: str,
) -> Iterator[TestClient]:
    """The API publishing its decisions to `broker`, spooling under tmp_path, its history in
    `schema`."""
    settings = make_settings(
        redis_url,
        prefix,
        bundle_dir,
        kafka_bootstrap_servers=broker.bootstrap,
        audit_idempotence=False,  # tansu refuses InitProducerId
        database_url=DATABASE_URL,
        database_schema=schema,
        spool_path=tmp_path / "audit.spool",
        audit_partitions=3,
        audit_retry_s=0.5,
    )
    with TestClient(create_app(settings)) as c:
        c.headers["Authorization"] = f"Bearer {API_KEY}"
        yield c


@pytest.fixture
def report_env(schema: str) -> Iterator[dict[str, str]]:
    """What `fraud report` reads in the report tests: this test's schema, a 7-day label
    delay and a review cost of 3 (settings are read once per process: cleared around)."""
    get_settings.cache_clear()
    yield {
        "FRAUD_DATABASE_URL": DATABASE_URL,
        "FRAUD_DATABASE_SCHEMA": schema,
        "FRAUD_LABEL_DELAY_DAYS": "7",
        "FRAUD_REVIEW_COST": "3",
    }
    get_settings.cache_clear()
