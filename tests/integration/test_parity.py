"""Online and offline agree: the API's features and scores equal `fraud evaluate`'s on a replayed file."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pandas as pd
import redis.asyncio as aioredis
from fastapi.testclient import TestClient

from app.schemas.score import ScoreRequest
from cli.traffic import request_bodies
from ensemble.evaluate import evaluate
from features.dataset import write_transactions
from features.definitions import FEATURE_NAMES
from features.encode import prepare_history
from features.online import online_matrix
from features.redis_store import RedisWindowStore
from features.replay import ReplayStore
from synthetic.generator import GeneratorConfig, generate

# Five days: shorter than the label delay, so no label is known offline or online.
FILE_CONFIG = GeneratorConfig(days=5, cards=300, seed=17)


def test_api_scores_equal_evaluate_scores(
    client: TestClient, bundle_dir: Path, tmp_path: Path
) -> None:
    frame = generate(FILE_CONFIG)
    assert len(frame) >= 1_000
    path = tmp_path / "traffic.csv"
    write_transactions(frame, path)
    evaluate(path, bundle_dir, 7.0, scores_out=tmp_path / "scores.csv")
    offline = pd.read_csv(tmp_path / "scores.csv").set_index("transaction_id")

    online = {}
    for request in request_bodies(prepare_history(frame, 7.0).frame):
        r = client.post("/v1/score", json=request)
        assert r.status_code == 200, r.text
        online[request["transaction_id"]] = r.json()
    got = pd.Series({k: v["score"] for k, v in online.items()}).reindex(offline.index)
    np.testing.assert_allclose(got.to_numpy(), offline["score"].to_numpy(), atol=1e-6)
    assert [online[k]["risk_tier"] for k in offline.index] == offline["risk_tier"].tolist()


def test_redis_windows_give_the_replay_feature_vectors(redis_url: str, prefix: str) -> None:
    history = prepare_history(generate(FILE_CONFIG), 7.0)
    offline = ReplayStore(
        history.tx, history.label_known_at, history.frame["is_fraud"].to_numpy()
    ).matrix()
    requests = [ScoreRequest.model_validate(b) for b in request_bodies(history.frame)]

    async def replay_online() -> np.ndarray:
        client = aioredis.Redis.from_url(redis_url)
        store = RedisWindowStore(client, prefix, 60_000)
        rows = []
        try:
            for i in range(0, len(requests), 16):  # batches, as the service sends them
                chunk = [r.to_online() for r in requests[i : i + 16]]
                reads = await store.read_and_record([t.event for t in chunk])
                rows.append(online_matrix(chunk, reads))
        finally:
            await client.aclose()
        return np.vstack(rows)

    online = asyncio.run(replay_online())
    assert online.shape == offline.shape == (len(requests), len(FEATURE_NAMES))
    np.testing.assert_allclose(online, offline, rtol=1e-6, atol=1e-6, equal_nan=True)
