"""Online and offline agree: the API's features and scores equal `fraud evaluate`'s on a
replayed history (the same native kernel computes both), with confirmed-fraud labels reaching the API through POST /v1/feedback as
time passes, as they do in production."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import redis.asyncio as aioredis
from fastapi.testclient import TestClient
from redis.asyncio.cluster import RedisCluster

from app.schemas.score import ScoreRequest
from cli.traffic import request_bodies
from ensemble.evaluate import evaluate
from features.cluster_store import ClusterWindowStore, node_url
from features.dataset import write_transactions
from features.definitions import ENTITY_FIELDS, FEATURE_NAMES, LABELLED_ENTITIES
from features.encode import History, prepare_history
from features.online import online_matrix
from features.redis_store import RedisClient, RedisWindowStore
from features.replay import ReplayStore
from features.store import WindowStore
from localservers import TansuBroker
from persistence.consumer import AuditConsumer, ConsumerConfig
from synthetic.generator import GeneratorConfig, generate
from tests.pg import DATABASE_URL

DELAY_DAYS = 7.0
# 40 days, each card returning to a few of 800 merchants: labels, the 30-day profiles and
# the card-merchant features all come into play.
API_CONFIG = GeneratorConfig(days=40, cards=400, merchants=800, favourite_merchants=3, seed=17)
STORE_CONFIG = GeneratorConfig(days=36, cards=150, favourite_merchants=4, seed=21)
LABEL_FIELDS = {e: ENTITY_FIELDS[e] for e in LABELLED_ENTITIES}


def _frauds_by_known_time(history: History) -> tuple[np.ndarray, np.ndarray]:
    """Fraud rows in the order their labels become known, and those times."""
    known = history.label_known_at
    assert known is not None
    fraud = np.flatnonzero(history.frame["is_fraud"].to_numpy() == 1)
    fraud = fraud[np.argsort(known[fraud], kind="stable")]
    return fraud, known[fraud]


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


class BackgroundConsumer:
    """The audit consumer on a thread of its own, storing decisions while the replay runs."""

    def __init__(self, config: ConsumerConfig) -> None:
        self._consumer = AuditConsumer(config)
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self._stop = asyncio.Event()
            await self._consumer.run(self._stop)

        try:
            self._loop.run_until_complete(main())
        finally:
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    def __enter__(self) -> BackgroundConsumer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        while self._stop is None:
            time.sleep(0.05)
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        assert not self._thread.is_alive(), "the consumer did not stop"


def test_api_with_feedback_scores_equal_evaluate_scores(
    broker: TansuBroker, schema: str, audited_client: TestClient, bundle_dir: Path, tmp_path: Path
) -> None:
    """Every fraud's label is posted to /v1/feedback once it is known (the consumer has
    stored its decision by then); every score equals the offline one within 1e-6."""
    history = prepare_history(generate(API_CONFIG), DELAY_DAYS)
    frame = history.frame
    path = tmp_path / "history.csv"
    write_transactions(frame, path)
    evaluate(path, bundle_dir, DELAY_DAYS, scores_out=tmp_path / "scores.csv")
    offline = pd.read_csv(tmp_path / "scores.csv").set_index("transaction_id")

    fraud, known = _frauds_by_known_time(history)
    ts = history.tx.ts
    config = ConsumerConfig(
        broker.bootstrap, "transactions.scored", f"g-{schema}", DATABASE_URL, schema
    )
    online: dict[str, dict[str, Any]] = {}
    posted = 0
    with BackgroundConsumer(config):
        for i, request in enumerate(request_bodies(frame)):
            while posted < len(fraud) and known[posted] < ts[i]:
                label = {
                    "transaction_id": frame["transaction_id"].iloc[fraud[posted]],
                    "label": "fraud",
                    "source": "chargeback",
                    "reported_at": _iso(int(known[posted])),
                }
                for _ in range(300):  # the consumer may not have stored the decision yet
                    r = audited_client.post("/v1/feedback", json=label)
                    if r.status_code != 404:
                        break
                    time.sleep(0.1)
                assert r.status_code == 201, r.text
                posted += 1
            r = audited_client.post("/v1/score", json=request)
            assert r.status_code == 200, r.text
            online[request["transaction_id"]] = r.json()
    assert posted >= 50  # labels were known for a good part of the history
    assert not any(v["degraded"] for v in online.values())
    got = pd.Series({k: v["score"] for k, v in online.items()}).reindex(offline.index)
    np.testing.assert_allclose(got.to_numpy(), offline["score"].to_numpy(), rtol=0, atol=1e-6)
    assert [online[k]["risk_tier"] for k in offline.index] == offline["risk_tier"].tolist()


@pytest.mark.parametrize("where", ["node", "cluster"])
def test_redis_windows_give_the_replay_feature_vectors(
    where: str, request: pytest.FixtureRequest, redis_url: str, prefix: str
) -> None:
    """Batches as the service sends them, with labels recorded between batches as they
    become known: every feature of every row equals the replay's, on one node and on a
    Redis Cluster (features/cluster_store.py)."""
    history = prepare_history(generate(STORE_CONFIG), DELAY_DAYS)
    offline = ReplayStore(
        history.tx, history.label_known_at, history.frame["is_fraud"].to_numpy()
    ).matrix()
    requests = [ScoreRequest.model_validate(b) for b in request_bodies(history.frame)]
    fraud, known = _frauds_by_known_time(history)
    ts = history.tx.ts
    frame = history.frame

    async def replay_online() -> np.ndarray:
        client: RedisClient
        if where == "cluster":
            client = RedisCluster.from_url(node_url(request.getfixturevalue("redis_cluster").url))
            store: WindowStore = ClusterWindowStore(client, prefix, 60_000, replay=True)
        else:
            client = aioredis.Redis.from_url(redis_url)
            store = RedisWindowStore(client, prefix, 60_000, replay=True)
        rows, i, posted = [], 0, 0
        try:
            while i < len(requests):
                while posted < len(fraud) and known[posted] < ts[i]:
                    row = frame.iloc[fraud[posted]]
                    entities = {
                        e: row[c] for e, c in LABEL_FIELDS.items() if isinstance(row[c], str)
                    }
                    await store.record_label(
                        entities, row["transaction_id"], int(known[posted]), True
                    )
                    posted += 1
                # Up to 16 transactions, none of them after the next label becomes known.
                end = i + 1
                while end < min(i + 16, len(requests)) and (
                    posted == len(fraud) or ts[end] <= known[posted]
                ):
                    end += 1
                chunk = [r.to_online() for r in requests[i:end]]
                reads = await store.read_and_record([t.event for t in chunk])
                rows.append(online_matrix(chunk, reads))
                i = end
        finally:
            await client.aclose()
        assert posted >= 10
        return np.vstack(rows)

    online = asyncio.run(replay_online())
    assert online.shape == offline.shape == (len(requests), len(FEATURE_NAMES))
    # One implementation (the native kernel) on both sides: equal to the bit.
    np.testing.assert_array_equal(online, offline)
