"""Members dated ahead of the server's clock never evict past ones (a real Redis and the
session's Redis Cluster): another scoring key's burst of near-future transactions, inside
the clock skew the API accepts, leaves a card's and a merchant's history readable, and a
burst of them stays bounded in memory."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis
from fastapi.testclient import TestClient
from redis.asyncio.cluster import RedisCluster

from app.auth import digest
from app.main import create_app
from app.schemas.score import ScoreRequest
from features.cluster_store import ClusterWindowStore, node_url
from features.redis_store import KEEP_EVENTS, RedisWindowStore
from features.window_format import MEMBER_DTYPES, Event, WindowRead, entity_key, stored_state
from localservers.redis_cluster import RedisClusterServer
from tests.integration.conftest import make_settings
from tests.integration.test_event_time import stamp
from tests.integration.test_redis_cluster import sync_client
from tests.integration.test_score_api import body

VICTIM_KEY, ATTACKER_KEY = "fk_victim_gateway_key", "fk_attacker_gateway_key"
CARD, MERCHANT = "card_victim", "m_shared"


def charge(tx: str, moment: datetime, **changes: Any) -> dict[str, Any]:
    fields = {"card_id": CARD, "merchant_id": MERCHANT, "timestamp": stamp(moment)}
    return body(transaction_id=tx, **(fields | changes))


def event(tx: str, moment: datetime, **changes: Any) -> Event:
    return ScoreRequest.model_validate(charge(tx, moment, **changes)).to_online().event


def gateway(url: str, prefix: str, bundle_dir: Path) -> TestClient:
    """A live-event-time API (the default skew: 300 s ahead) taking two scoring keys."""
    settings = make_settings(
        url,
        prefix,
        bundle_dir,
        event_time="live",
        api_keys=f"{digest(VICTIM_KEY)},{digest(ATTACKER_KEY)}",
    )
    return TestClient(create_app(settings))


def as_key(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def history_then_future_burst(api: TestClient) -> datetime:
    """Five real charges in the last minute (one key), then KEEP_EVENTS charges of the
    same card at the same merchant dated 280 s ahead (another key): what used to push
    every real member out of both windows."""
    now = datetime.now(UTC)
    with api:
        for i in range(5):
            moment = now - timedelta(seconds=50 - i)
            r = api.post("/v1/score", json=charge(f"real{i}", moment), headers=as_key(VICTIM_KEY))
            assert r.status_code == 200, r.text
        ahead = now + timedelta(seconds=280)
        for i in range(KEEP_EVENTS):
            fake = charge(f"fake{i}", ahead + timedelta(milliseconds=i), amount=1.0)
            r = api.post("/v1/score", json=fake, headers=as_key(ATTACKER_KEY))
            assert r.status_code == 200, r.text
    return now


def members_read(read: WindowRead) -> dict[str, int]:
    return {e: len(read.members[e]) // MEMBER_DTYPES[e].itemsize for e in ("card", "merchant")}


def test_a_near_future_burst_from_another_key_leaves_the_history_read(
    redis_url: str, prefix: str, bundle_dir: Path
) -> None:
    history_then_future_burst(gateway(redis_url, prefix, bundle_dir))

    # The probe is dated at the clock, a past member: dated ahead (as the burst is, when
    # the burst took under a second) it would be one more member ahead, and the latest
    # of the burst would rightly make way for it.
    async def probe() -> WindowRead:
        async with aioredis.Redis.from_url(redis_url) as client:
            store = RedisWindowStore(client, prefix, 60_000)
            (read,) = await store.read_and_record([event("probe", datetime.now(UTC))])
        return read

    assert members_read(asyncio.run(probe())) == {"card": 5, "merchant": 5}
    with redis.Redis.from_url(redis_url) as r:
        for key in (entity_key(prefix, "card", CARD), entity_key(prefix, "merchant", MERCHANT)):
            entity = "card" if key.endswith(CARD + "}") else "merchant"
            # nothing trimmed: the real, fakes, probe
            assert len(stored_state(entity, r.get(key)).window) == 5 + KEEP_EVENTS + 1


@pytest.fixture
def cluster_prefix(redis_cluster: RedisClusterServer) -> Iterator[str]:
    name = f"fm-{uuid.uuid4().hex[:10]}"
    yield name
    with sync_client(redis_cluster) as r:
        for key in r.scan_iter(match=f"{name}:*", target_nodes=redis.RedisCluster.PRIMARIES):
            r.delete(key)


def test_a_near_future_burst_leaves_the_history_read_on_the_cluster(
    redis_cluster: RedisClusterServer, cluster_prefix: str, bundle_dir: Path
) -> None:
    history_then_future_burst(gateway(redis_cluster.url, cluster_prefix, bundle_dir))

    async def probe() -> WindowRead:
        client = RedisCluster.from_url(node_url(redis_cluster.url))
        try:
            store = ClusterWindowStore(client, cluster_prefix, 60_000)
            (read,) = await store.read_and_record([event("probe", datetime.now(UTC))])
        finally:
            await client.aclose()
        return read

    assert members_read(asyncio.run(probe())) == {"card": 5, "merchant": 5}


@pytest.mark.parametrize("cluster", [False, True], ids=["node", "cluster"])
def test_members_ahead_are_bounded_keeping_the_earliest(
    redis_url: str,
    prefix: str,
    redis_cluster: RedisClusterServer,
    cluster_prefix: str,
    cluster: bool,
) -> None:
    """More than KEEP_EVENTS past members, then three times KEEP_EVENTS dated ahead, each
    write earlier in time than the one before: the window keeps the newest KEEP_EVENTS
    past members and the KEEP_EVENTS earliest ahead (the next to become history), so a
    burst ahead, however long, costs at most 2 * KEEP_EVENTS members."""
    now = datetime.now(UTC)
    url, name = (node_url(redis_cluster.url), cluster_prefix) if cluster else (redis_url, prefix)
    past = [event(f"p{i}", now - timedelta(seconds=600 - i)) for i in range(KEEP_EVENTS + 7)]
    ahead = [
        event(f"a{i}", now + timedelta(seconds=200, milliseconds=-i))
        for i in range(3 * KEEP_EVENTS)
    ]

    async def run() -> list[float]:
        client: Any = RedisCluster.from_url(url) if cluster else aioredis.Redis.from_url(url)
        try:
            store = (ClusterWindowStore if cluster else RedisWindowStore)(client, name, 60_000)
            for events in (past, ahead):
                for i in range(0, len(events), 40):
                    await store.read_and_record(events[i : i + 40])
            key = entity_key(name, "card", CARD)
            return sorted(stored_state("card", await client.get(key)).window["ts"].tolist())
        finally:
            await client.aclose()

    scores = asyncio.run(run())
    kept_past = sorted(e.ts for e in past)[-KEEP_EVENTS:]
    kept_ahead = sorted(e.ts for e in ahead)[:KEEP_EVENTS]
    assert scores == kept_past + kept_ahead
