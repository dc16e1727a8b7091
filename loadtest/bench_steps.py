"""Per-request cost of each step of the scoring path, in-process, on replayed history:
Redis round trip (window script), features, compiled inference, reasons.

    .venv/bin/python loadtest/bench_steps.py [--model models/bench] [--batch 32] [--rows 5000]

Uses FRAUD_REDIS_URL or the machine's Redis under a fresh key prefix, deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from pathlib import Path

import redis.asyncio as aioredis

from app.schemas.score import ScoreRequest
from cli.traffic import request_bodies
from ensemble.bundle import ModelBundle
from features.dataset import read_transactions
from features.online import online_matrix
from features.redis_store import RedisWindowStore


async def run(model: Path, data: Path, batch: int, rows: int) -> None:
    bodies = list(request_bodies(read_transactions(data).head(rows)))
    started = time.perf_counter()
    txs = [ScoreRequest.model_validate(b).to_online() for b in bodies]
    validate_us = (time.perf_counter() - started) / len(txs) * 1e6
    bundle = ModelBundle.load(model)
    prefix = f"steps{uuid.uuid4().hex[:6]}"
    client = aioredis.Redis.from_url(os.environ.get("FRAUD_REDIS_URL", "redis://127.0.0.1:6379/0"))
    store = RedisWindowStore(client, prefix, 60_000, replay=True)
    await store.load_script()
    spent = dict.fromkeys(("redis", "features", "inference", "reasons"), 0.0)
    try:
        for i in range(0, len(txs), batch):
            chunk = txs[i : i + batch]
            t0 = time.perf_counter()
            reads = await store.read_and_record([t.event for t in chunk])
            t1 = time.perf_counter()
            matrix = online_matrix(chunk, reads)
            t2 = time.perf_counter()
            scores = bundle.score(matrix)
            t3 = time.perf_counter()
            bundle.reasons_many(
                matrix[[k for k in range(len(chunk)) if scores.risk_tier[k] != "low"]]
            )
            t4 = time.perf_counter()
            for name, seconds in zip(spent, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                spent[name] += seconds
    finally:
        async for key in client.scan_iter(match=f"{prefix}:*", count=5000):
            await client.delete(key)
        await client.aclose()
    per = {k: v / len(txs) * 1e6 for k, v in spent.items()}
    print(f"{len(txs):,} requests in batches of {batch}; microseconds per request:")
    print(
        f"  validate + convert {validate_us:.0f}, "
        + ", ".join(f"{k} {v:.0f}" for k, v in per.items())
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, default=Path("models/bench"))
    parser.add_argument("--data", type=Path, default=Path("data/bench_history.parquet"))
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rows", type=int, default=5_000)
    args = parser.parse_args()
    asyncio.run(run(args.model, args.data, args.batch, args.rows))


if __name__ == "__main__":
    main()
