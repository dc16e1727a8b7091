"""The Redis server's CPU per round trip that does nothing: the floor under any script's
cost per decision at a given rate (a decision costs at least one round trip).

    .venv/bin/python -m loadtest.bench_redis_floor [--rate 200 1000 0] [--calls 3000]

Sends PING, then an EVALSHA of `return 1`, one call at a time from one connection, paced
at each rate (0: back to back), and prints the server's CPU (INFO cpu, user + system) per
call. Redis: FRAUD_REDIS_URL if it answers, else a local one.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from contextlib import ExitStack

import redis
import redis.asyncio as aioredis

from app.settings import get_settings
from cli.demo import ensure_server
from localservers import RedisServer, redis_reachable


def server_cpu(client: redis.Redis) -> float:
    cpu = client.info("cpu")
    return float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])


async def per_call(url: str, command: str, rate: float, calls: int) -> float:
    """Server CPU microseconds per call of `command` ("ping" or "eval") at `rate`."""
    client = aioredis.Redis.from_url(url)
    sha = await client.script_load("return 1")
    with redis.Redis.from_url(url) as probe:
        before = server_cpu(probe)
        started = time.perf_counter()
        for i in range(calls):
            if command == "ping":
                await client.ping()
            else:
                await client.evalsha(sha, 0)
            if rate:
                await asyncio.sleep(max(0.0, started + (i + 1) / rate - time.perf_counter()))
        spent = server_cpu(probe) - before
    await client.aclose()
    return spent / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, nargs="+", default=[200, 1000, 0])
    parser.add_argument("--calls", type=int, default=3000)
    args = parser.parse_args()
    with ExitStack() as stack:
        url = ensure_server(
            "Redis", get_settings().redis_url, redis_reachable, RedisServer, stack, print
        )
        for rate in args.rate:
            load = f"{rate:g}/s paced" if rate else "back to back"
            ping = asyncio.run(per_call(url, "ping", rate, args.calls))
            empty = asyncio.run(per_call(url, "eval", rate, args.calls))
            print(
                f"{load}: server CPU per PING {ping:.1f} us, per EVALSHA of `return 1` {empty:.1f} us"
            )


if __name__ == "__main__":
    main()
