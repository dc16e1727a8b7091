"""Per-key rate limits on real Redis: two API instances sharing one Redis admit, together,
about the configured rate; refusals are 429 with Retry-After, counted in /metrics; a zero
rate admits everything."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest
import redis as aredis_sync
import redis.asyncio as aredis
from fastapi.testclient import TestClient

from app.auth import key_id
from app.main import create_app
from app.metrics import scraped_total
from app.rate_limit import RateLimiter, bucket_key
from localservers import free_port
from tests.integration.conftest import API_KEY, make_settings
from tests.integration.test_score_api import body

RATE, BURST, SECONDS = 20.0, 20.0, 3.0


@pytest.mark.parametrize("where", ["node", "cluster"])
def test_two_instances_share_one_budget(
    where: str,
    request: pytest.FixtureRequest,
    redis_url: str,
    prefix: str,
    bundle_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """On one Redis node and on a Redis Cluster (the bucket's script in a cluster
    pipeline)."""
    caplog.set_level(logging.INFO, "fraud.security")
    url = request.getfixturevalue("redis_cluster").url if where == "cluster" else redis_url
    settings = make_settings(url, prefix, bundle_dir, rate_limit_per_s=RATE, rate_limit_burst=BURST)
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with (
        TestClient(create_app(settings), headers=headers) as one,
        TestClient(create_app(settings), headers=headers) as two,
    ):
        before = scraped_total(one.get("/metrics").text, "fraud_rate_limited_total")
        statuses: list[int] = []
        refusal = None
        started = time.monotonic()
        n = 0
        while time.monotonic() - started < SECONDS:
            n += 1
            r = (one, two)[n % 2].post("/v1/score", json=body(transaction_id=f"rl_{n}"))
            statuses.append(r.status_code)
            if r.status_code == 429:
                refusal = r
        elapsed = time.monotonic() - started
        after = scraped_total(one.get("/metrics").text, "fraud_rate_limited_total")

    print(f"admitted {statuses.count(200)} of {len(statuses)} in {elapsed:.2f} s")
    assert set(statuses) == {200, 429}
    admitted = statuses.count(200)
    expected = BURST + RATE * elapsed
    assert 0.75 * expected <= admitted <= 1.3 * expected, (admitted, expected, len(statuses))
    assert refusal is not None
    assert refusal.json()["error"] == "rate_limited"
    assert "over its limit of 20 requests a second" in refusal.json()["detail"]
    assert 1 <= int(refusal.headers["Retry-After"]) <= 2
    assert after - before == statuses.count(429)
    refused = [r for r in caplog.records if getattr(r, "status", None) == 429]
    assert len(refused) == statuses.count(429)
    assert {r.key_id for r in refused} == {key_id(API_KEY)}  # type: ignore[attr-defined]
    assert {r.path for r in refused} == {"/v1/score"}  # type: ignore[attr-defined]


def test_a_zero_rate_admits_everything(redis_url: str, prefix: str, bundle_dir: Path) -> None:
    settings = make_settings(redis_url, prefix, bundle_dir, rate_limit_per_s=0)
    with TestClient(create_app(settings)) as c:
        c.headers["Authorization"] = f"Bearer {API_KEY}"
        codes = {
            c.post("/v1/score", json=body(transaction_id=f"z_{i}")).status_code for i in range(300)
        }
    assert codes == {200}


def test_the_shared_bucket_and_the_fallback_without_redis(redis_url: str, prefix: str) -> None:
    async def run(url: str) -> list[int | None]:
        async with aredis.Redis.from_url(url, socket_connect_timeout=0.5) as client:
            limiter = RateLimiter(client, prefix, rate=10, burst=2, sync_s=0.1)
            seen = [limiter.admit("k") for _ in range(3)]
            await limiter.sync()
            seen.append(limiter.admit("k"))
            return seen

    # Redis's bucket: 2 - 2 spent, plus what 10 a second refilled meanwhile: under 1 token.
    assert asyncio.run(run(redis_url)) == [None, None, 1, 1]
    with aredis_sync.Redis.from_url(redis_url) as client:
        tokens = float(client.hget(bucket_key(prefix, "k"), "tokens") or "nan")
    assert 0 <= tokens < 1
    # No Redis: one sync interval's refill (1 token at 10 a second) is admitted locally.
    assert asyncio.run(run(f"redis://127.0.0.1:{free_port()}/0")) == [None, None, 1, None]
