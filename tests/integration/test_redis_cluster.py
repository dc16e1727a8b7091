"""The API on a real Redis Cluster (three masters, one replica each; the session's own):
retries counted once, a conflict changes nothing, the lists decide, and a master killed
and failed over degrades the answers, which recover without a restart, with every
answer's decision reaching PostgreSQL through Kafka. Store parity with the offline
replay on the cluster: tests/integration/test_parity.py."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from redis.asyncio.cluster import ClusterNode as ClusterNodeClient
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot

from app.main import create_app
from app.schemas.score import EXAMPLE, ScoreRequest
from controls.lists import checksum_key
from features.cluster_store import ClusterWindowStore, node_url
from features.window_format import entity_key, stored_state
from localservers import TansuBroker
from localservers.redis_cluster import ClusterNode, RedisClusterServer
from persistence.consumer import ConsumerConfig
from tests.integration.conftest import API_KEY, make_settings
from tests.integration.test_drills import wait_for_rows
from tests.integration.test_parity import BackgroundConsumer
from tests.integration.test_score_api import body
from tests.pg import DATABASE_URL


def sync_client(cluster: RedisClusterServer) -> redis.RedisCluster:
    node = cluster.primaries()[0]
    return redis.RedisCluster(host="127.0.0.1", port=node.port)


@pytest.fixture
def cluster_prefix(redis_cluster: RedisClusterServer) -> Iterator[str]:
    name = f"cl-{time.time_ns() % 10**12}"
    yield name
    with sync_client(redis_cluster) as r:
        for key in r.scan_iter(match=f"{name}:*", target_nodes=redis.RedisCluster.PRIMARIES):
            r.delete(key)


def settings(
    cluster: RedisClusterServer, prefix: str, bundle_dir: Path, schema: str, **overrides: Any
) -> Any:
    return make_settings(
        cluster.url,
        prefix,
        bundle_dir,
        database_url=DATABASE_URL,
        database_schema=schema,
        list_sync_s=0.2,
        **overrides,
    )


@pytest.fixture
def api(
    redis_cluster: RedisClusterServer, cluster_prefix: str, bundle_dir: Path, schema: str
) -> Iterator[TestClient]:
    with TestClient(create_app(settings(redis_cluster, cluster_prefix, bundle_dir, schema))) as c:
        c.headers["Authorization"] = f"Bearer {API_KEY}"
        yield c


def days(raw: bytes | None) -> list[tuple[int, ...]]:
    """A card state's profile day entries: (day, count, cents, squares)."""
    return [tuple(int(v) for v in entry) for entry in stored_state("card", raw).days.tolist()]


def members(cluster: RedisClusterServer, prefix: str, entity: str, value: str) -> int:
    with sync_client(cluster) as r:
        return len(stored_state(entity, r.get(entity_key(prefix, entity, value))).window)


def test_a_retry_counts_once_and_a_conflict_changes_nothing(
    api: TestClient, redis_cluster: RedisClusterServer, cluster_prefix: str
) -> None:
    first = api.post("/v1/score", json=body(transaction_id="c1"))
    assert first.status_code == 200, first.text
    assert first.json()["degraded"] is False
    again = api.post("/v1/score", json=body(transaction_id="c1"))
    assert again.content == first.content
    card = EXAMPLE["card_id"]
    assert members(redis_cluster, cluster_prefix, "card", card) == 1
    with sync_client(redis_cluster) as r:
        profile = days(r.get(entity_key(cluster_prefix, "card", card)))
    # Another card and merchant, and the same card with another amount: both refused, and
    # their writes (made beside the claim that refused them) taken back.
    for changes in ({"card_id": "card_victim", "merchant_id": "m_other"}, {"amount": 250.0}):
        refused = api.post("/v1/score", json=body(transaction_id="c1", **changes))
        assert refused.status_code == 409, refused.text
    assert members(redis_cluster, cluster_prefix, "card", "card_victim") == 0
    assert members(redis_cluster, cluster_prefix, "merchant", "m_other") == 0
    assert members(redis_cluster, cluster_prefix, "card", card) == 1
    with sync_client(redis_cluster) as r:
        assert days(r.get(entity_key(cluster_prefix, "card", card))) == profile
        taken_back = days(r.get(entity_key(cluster_prefix, "card", "card_victim")))
        assert {v for _, *totals in taken_back for v in totals} <= {0}
    assert api.post("/v1/score", json=body(transaction_id="c1")).content == first.content


def test_a_listed_card_is_declined_on_the_cluster(
    api: TestClient, redis_cluster: RedisClusterServer, cluster_prefix: str
) -> None:
    with sync_client(redis_cluster) as r:  # the start-up rebuild done: tests start in step
        deadline = time.monotonic() + 10
        while not r.exists(checksum_key(cluster_prefix)):
            assert time.monotonic() < deadline, "the lists were not rebuilt at start"
            time.sleep(0.05)
    created = api.post(
        "/v1/lists",
        json={"entity": "card", "value": "card_listed", "action": "block", "reason": "test"},
    )
    assert created.status_code == 201, created.text
    answer = api.post("/v1/score", json=body(transaction_id="l1", card_id="card_listed"))
    assert answer.status_code == 200, answer.text
    assert answer.json()["decision"] == "decline", answer.json()
    assert answer.json()["degraded"] is False


def owner_of(cluster: RedisClusterServer, key: str) -> ClusterNode:
    """The primary serving `key`'s slot."""
    slot = key_slot(key.encode())
    with sync_client(cluster) as r:
        node = r.get_node_from_key(key)
        assert node is not None
        for candidate in cluster.primaries():
            if candidate.port == node.port:
                return candidate
    raise AssertionError(f"no primary serves slot {slot}")


def test_a_killed_master_fails_over_answers_degrade_then_recover_and_no_decision_is_lost(
    redis_cluster: RedisClusterServer,
    cluster_prefix: str,
    bundle_dir: Path,
    schema: str,
    broker: TansuBroker,
    tmp_path: Path,
) -> None:
    config = settings(
        redis_cluster,
        cluster_prefix,
        bundle_dir,
        schema,
        redis_budget_ms=100.0,
        kafka_bootstrap_servers=broker.bootstrap,
        audit_idempotence=False,  # tansu refuses InitProducerId
        spool_path=tmp_path / "audit.spool",
        audit_partitions=3,
        audit_retry_s=0.5,
    )
    card = EXAMPLE["card_id"]
    victim = owner_of(redis_cluster, entity_key(cluster_prefix, "card", card))
    consumer = ConsumerConfig(
        broker.bootstrap, "transactions.scored", f"g-{schema}", DATABASE_URL, schema
    )
    answers: list[dict[str, Any]] = []
    with TestClient(create_app(config)) as c, BackgroundConsumer(consumer):
        c.headers["Authorization"] = f"Bearer {API_KEY}"

        def score() -> dict[str, Any]:
            r = c.post("/v1/score", json=body(transaction_id=f"f{len(answers)}"))
            assert r.status_code == 200, r.text
            answers.append(r.json())
            return answers[-1]

        for _ in range(5):
            assert score()["degraded"] is False
        redis_cluster.wait_replicas_synced()
        victim.kill()  # SIGKILL by its PID
        killed_at = time.monotonic()
        degraded = recovered = False
        while time.monotonic() - killed_at < 30 and not recovered:
            answer = score()
            degraded = degraded or answer["degraded"]
            recovered = degraded and not answer["degraded"]
            time.sleep(0.05)
        assert degraded, "no answer was degraded while the master was down"
        assert recovered, "the answers did not recover after the failover"
        for _ in range(5):
            assert score()["degraded"] is False
        # The windows written before the kill survived it (the replica had them).
        assert members(redis_cluster, cluster_prefix, "card", card) >= 5
        found = asyncio.run(wait_for_rows(DATABASE_URL, schema, len(answers), 30))
    assert found == len(answers), (found, len(answers))
    # The killed node comes back (same port and configuration) as a replica.
    victim.start()
    redis_cluster.wait_healthy(30)
    redis_cluster.wait_replicas_synced(30)


def test_a_batch_is_one_pipeline_per_node_sent_at_once(
    redis_cluster: RedisClusterServer, cluster_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """16 transactions over many slots: each node gets one pipeline, all of them in
    flight together (one round trip in time), and the lists' look-up rides in them."""
    sent: list[tuple[str, int]] = []
    in_flight, most = 0, 0
    original = ClusterNodeClient.execute_pipeline

    async def counted(self: ClusterNodeClient, commands: list[Any]) -> bool:
        nonlocal in_flight, most
        sent.append((self.name, len(commands)))
        in_flight += 1
        most = max(most, in_flight)
        try:
            await asyncio.sleep(0.01)  # hold it: the other nodes' go out meanwhile
            return await original(self, commands)
        finally:
            in_flight -= 1

    async def run() -> list[Any]:
        client = RedisCluster.from_url(node_url(redis_cluster.url))
        store = ClusterWindowStore(client, cluster_prefix, 60_000, replay=True)
        try:
            await store.load_script()
            monkeypatch.setattr(ClusterNodeClient, "execute_pipeline", counted)
            batch = [
                ScoreRequest.model_validate(
                    body(transaction_id=f"p{i}", card_id=f"card_{i}", device_id=f"dev_{i}")
                )
                .to_online()
                .event
                for i in range(16)
            ]
            return await store.read_and_record(batch)
        finally:
            monkeypatch.undo()
            await client.aclose()

    reads = asyncio.run(run())
    assert len(reads) == 16
    assert not any(r.conflict for r in reads)
    nodes = [name for name, _ in sent]
    assert len(nodes) == len(set(nodes)) == 3, sent  # one pipeline per master
    assert most == 3  # sent concurrently
    # 16 claims, the entities' slots (16 cards, 16 devices, the shared merchant, IP,
    # account...) and one list look-up, spread over the three.
    assert sum(n for _, n in sent) >= 16 + 32 + 1
