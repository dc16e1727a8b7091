"""Redis memory per entity: its state (window and 30-day profile) and its label window.

    .venv/bin/python loadtest/bench_redis_memory.py [--days 40 --cards 3000]

Replays a generated history through the window store (batches of 32, in event-time
order) into a Redis of its own, then sums MEMORY USAGE over each kind of key and prints
bytes per entity: a card's or a merchant's whole footprint. Key kinds are read from the
key format of the code measured (features.window_format.FORMAT: `e4`, an entity's state;
before it `w3` and `p`, its window and profile apart).
"""

from __future__ import annotations

import argparse
import asyncio
from collections import defaultdict

import redis
import redis.asyncio as aioredis

from app.schemas.score import ScoreRequest
from cli.traffic import request_bodies
from features.encode import prepare_history
from features.redis_store import RedisWindowStore
from features.window_format import FORMAT
from localservers import RedisServer
from synthetic.generator import GeneratorConfig, generate

PREFIX = "mem"
# The kinds of key one entity has, and their names.
ENTITY_KINDS = {f"e{FORMAT}": "state", "w3": "window", "l": "labels", "p": "profile"}


async def _replay(url: str, requests: list[ScoreRequest]) -> None:
    client = aioredis.Redis.from_url(url)
    store = RedisWindowStore(client, PREFIX, 60_000, replay=True)
    try:
        for i in range(0, len(requests), 32):
            await store.read_and_record([r.to_online().event for r in requests[i : i + 32]])
    finally:
        await client.aclose()


def _usage(url: str) -> dict[tuple[str, str], list[int]]:
    """Bytes of every key, grouped by (kind, entity): an entity's kinds, seen and d apart."""
    out: dict[tuple[str, str], list[int]] = defaultdict(list)
    with redis.Redis.from_url(url) as client:
        for key in client.scan_iter(match=f"{PREFIX}:*", count=1000):
            parts = key.decode().split(":")
            kind = parts[1]
            entity = parts[2].lstrip("{") if kind in ENTITY_KINDS else ""
            out[(kind, entity)].append(int(client.memory_usage(key, samples=0) or 0))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=40)
    parser.add_argument("--cards", type=int, default=3_000)
    args = parser.parse_args()
    history = prepare_history(generate(GeneratorConfig(days=args.days, cards=args.cards)), 7.0)
    requests = [ScoreRequest.model_validate(b) for b in request_bodies(history.frame)]
    server = RedisServer().start()
    try:
        asyncio.run(_replay(server.url, requests))
        usage = _usage(server.url)
        with redis.Redis.from_url(server.url) as client:
            used = int(client.info("memory")["used_memory"])
    finally:
        server.cleanup()
    print(f"{len(requests):,} transactions over {args.days} days, {args.cards:,} cards")
    print(f"{'key kind':<22}{'keys':>9}{'bytes/key':>11}{'max':>8}")
    for (kind, entity), sizes in sorted(usage.items()):
        name = ENTITY_KINDS.get(kind, kind) + f" {entity}"
        print(f"{name:<22}{len(sizes):>9,}{sum(sizes) / len(sizes):>11,.0f}{max(sizes):>8,}")
    main_kind = f"e{FORMAT}" if any(k == f"e{FORMAT}" for k, _ in usage) else "w3"
    for entity in ("card", "merchant"):
        keys = usage.get((main_kind, entity), [])
        total = sum(sum(usage.get((k, entity), [])) for k in ENTITY_KINDS)
        print(f"per active {entity}: {total / max(len(keys), 1):,.0f} bytes")
    print(f"used_memory: {used / 1e6:,.1f} MB")


if __name__ == "__main__":
    main()
