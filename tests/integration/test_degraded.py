"""Redis stopped or stalled: answers keep coming, degraded, and recover without a restart.

Uses a redis-server of its own on a free port; the machine's Redis is never touched.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from app.main import create_app
from localservers import RedisServer
from tests.integration.conftest import API_KEY, make_settings
from tests.integration.test_score_api import body


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.cleanup()


def wait_until_not_degraded(c: TestClient, prefix: str) -> dict[str, object]:
    deadline = time.monotonic() + 15
    i = 0
    while True:
        i += 1
        answer: dict[str, object] = c.post(
            "/v1/score", json=body(transaction_id=f"{prefix}_{i}")
        ).json()
        if not answer["degraded"] or time.monotonic() > deadline:
            return answer
        time.sleep(0.1)


@pytest.mark.parametrize("policy", ["score", "review"])
def test_stopped_redis_gives_degraded_answers_then_recovers(
    own_redis: RedisServer, bundle_dir: Path, policy: str
) -> None:
    settings = make_settings(
        own_redis.url, "deg", bundle_dir, redis_budget_ms=50.0, degraded_policy=policy
    )
    with TestClient(create_app(settings)) as c:
        c.headers["Authorization"] = f"Bearer {API_KEY}"
        assert c.post("/v1/score", json=body(transaction_id="up_1")).json()["degraded"] is False

        own_redis.stop()
        down = c.post("/v1/score", json=body(transaction_id="down_1"))
        assert down.status_code == 200
        assert down.json()["degraded"] is True
        if policy == "review":
            assert down.json()["decision"] == "review"
        assert c.get("/readyz").status_code == 503

        own_redis.start()  # same port
        assert wait_until_not_degraded(c, "back")["degraded"] is False
        assert c.get("/readyz").status_code == 200


def test_a_stalled_redis_is_cut_off_at_the_budget(own_redis: RedisServer, bundle_dir: Path) -> None:
    # A budget well above a busy machine's hiccups: only the paused Redis may miss it.
    settings = make_settings(own_redis.url, "slow", bundle_dir, redis_budget_ms=300.0)
    with TestClient(create_app(settings)) as c:
        c.headers["Authorization"] = f"Bearer {API_KEY}"
        assert c.post("/v1/score", json=body(transaction_id="before")).json()["degraded"] is False
        own_redis.pause()
        try:
            stalled = c.post("/v1/score", json=body(transaction_id="during")).json()
        finally:
            own_redis.resume()
        assert stalled["degraded"] is True
        # One slow call degrades only its own batch: the next request uses the store again.
        assert c.post("/v1/score", json=body(transaction_id="after")).json()["degraded"] is False


def test_the_redis_connections_are_open_before_the_first_request(
    own_redis: RedisServer, bundle_dir: Path
) -> None:
    # Opened by the first requests instead, each connection's connect and hand-shake
    # commands would count against those requests' Redis budget.
    settings = make_settings(own_redis.url, "warm", bundle_dir, max_inflight_batches=3)
    with TestClient(create_app(settings)), redis.Redis.from_url(own_redis.url) as inspector:
        clients = inspector.info("clients")["connected_clients"]
    assert clients - 1 >= settings.max_inflight_batches + 1  # all but the inspector
