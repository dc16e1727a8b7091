"""The store tells a copy whose first is still being scored (maybe by another process) from
a new transaction and from an answered one, on one Redis node and on a Redis Cluster:
recorded once, read again without counting, then answered from the stored answer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from app.lifespan import redis_client, window_store
from app.schemas.score import ScoreRequest
from features.window_format import entity_key, stored_state
from localservers.redis_cluster import RedisClusterServer
from tests.integration.conftest import make_settings
from tests.integration.test_score_api import body


@pytest.fixture(params=["one node", "cluster"])
def store_url(
    request: pytest.FixtureRequest, redis_url: str, prefix: str
) -> Iterator[tuple[str, str]]:
    if request.param == "one node":
        yield redis_url, prefix
        return
    cluster: RedisClusterServer = request.getfixturevalue("redis_cluster")
    name = f"pend-{time.time_ns() % 10**12}"
    yield cluster.url, name
    node = cluster.primaries()[0]
    with redis.RedisCluster(host="127.0.0.1", port=node.port) as r:
        for key in r.scan_iter(match=f"{name}:*", target_nodes=redis.RedisCluster.PRIMARIES):
            r.delete(key)


def test_a_copy_of_an_unanswered_transaction_is_read_not_recorded_then_answered(
    store_url: tuple[str, str], bundle_dir: Path
) -> None:
    url, prefix = store_url
    settings = make_settings(url, prefix, bundle_dir)
    event = ScoreRequest.model_validate(body(transaction_id="tx_pending")).to_transaction()
    event = event.online("scope_a").event

    async def steps() -> tuple[bool, bool, bytes | None, int]:
        client = redis_client(settings)
        store = window_store(client, settings)
        try:
            await store.load_script()
            first = (await store.read_and_record([event]))[0]
            copy = (await store.read_and_record([event]))[0]
            await store.save_responses([store.stored_answer(event, b'{"answer":1}')])
            answered = (await store.read_and_record([event]))[0]
            stored = await client.get(entity_key(prefix, "card", event.card))
            members = len(stored_state("card", stored).window)
            return first.answer_pending, copy.answer_pending, answered.stored_response, members
        finally:
            await client.aclose()

    first, copy, answered, members = asyncio.run(steps())
    assert (first, copy) == (False, True)
    assert answered == b'{"answer":1}'
    assert members == 1  # the copy was read, not counted
