"""What one full decision costs each part of the system, the inputs of docs/scaling.md:
one `fraud serve` process (one worker) driven by wrk with full answers, its audit events
to a tansu broker, its windows in a Redis-compatible server, all on this machine.

    .venv/bin/python -m loadtest.capacity [--model models/bench] [--seconds 20] [--connections 128] [--cluster]
        [--rate 200 1000] [--durability memory|log] [--baseline DIR --rounds N]

It prints, per decision: the API process's CPU time (so decisions per second per core),
the Redis commands by name and the Redis server's CPU time, and the audit record's bytes
on the topic (key + value, and the gzip ratio of a sample as Kafka's batch compression
would see it). Redis: FRAUD_REDIS_URL if it answers, else a local one; the keys go under a
fresh prefix, deleted after the run. --cluster measures the same on a Redis Cluster
(FRAUD_BENCH_CLUSTER_URL, else a local one of three masters with one replica each) after
the single node, in the same run: its commands and CPU are summed over every node,
replicas included (replication is part of what a decision costs there).

--rate R replaces wrk by an open loop of R requests a second (the API's CPU per decision at
a low rate, where each batch holds one request); several rates are measured one after the
other. The API logs as `fraud serve` does (JSON, the access line included); --durability
chooses the audit's mode (memory by default, log as production). --baseline DIR measures
the code in DIR too (a `git archive` of an earlier commit), alternating with this one over
--rounds rounds at each rate (and on the cluster with --cluster), and prints side by side
the medians of the Redis commands and Redis CPU per decision (masters) and the API's CPU
per decision, with their ratios. --floors measures, at each --rate, the same open loop against
two endpoints that do almost nothing (loadtest/noop_app.py: a bare ASGI callable parsing the
body with orjson, and a plain FastAPI endpoint validating it) and prints /v1/score's CPU per
decision against theirs: what any Python endpoint on uvicorn costs at that rate on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import os
import shutil
import statistics
import tempfile
import uuid
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import redis
from aiokafka import AIOKafkaConsumer

from app.auth import digest
from app.metrics import scraped_total
from app.settings import get_settings
from cli.demo import ensure_server
from loadtest.bench_api import KEY, ROOT, cpu_times, measure, paced, start_server
from localservers import RedisServer, TansuBroker, delete_keys, free_port, redis_reachable, stop
from localservers.redis_cluster import (
    RedisClusterServer,
    cluster_reachable,
    delete_cluster_keys,
)


def nodes(url: str) -> list[tuple[str, int]]:
    """The servers behind a URL: itself, or every node of a cluster."""
    if "+cluster://" not in url:
        client = redis.Redis.from_url(url)
        kwargs = client.connection_pool.connection_kwargs
        client.close()
        return [(str(kwargs.get("host", "127.0.0.1")), int(kwargs.get("port", 6379)))]
    with redis.RedisCluster.from_url(url.replace("+cluster", "", 1)) as cluster:
        return [(n.host, int(n.port)) for n in cluster.get_nodes()]


def redis_snapshot(url: str) -> tuple[Counter[str], float, float]:
    """Calls per command so far, and the servers' CPU seconds (user + system): summed over
    every node, and over the masters alone."""
    calls: Counter[str] = Counter()
    every, masters = 0.0, 0.0
    for host, port in nodes(url):
        with redis.Redis(host=host, port=port) as r:
            stats = r.info("commandstats")
            cpu = r.info("cpu")
            role = r.info("replication")["role"]
        for name, v in stats.items():
            calls[name.removeprefix("cmdstat_")] += int(v["calls"])
        spent = float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])
        every += spent
        masters += spent if role == "master" else 0.0
    return calls, every, masters


async def topic_sizes(bootstrap: str, topic: str) -> tuple[int, int, float]:
    """Records on the topic, their key + value bytes, and gzip's ratio on a sample batch."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    count, size, sample = 0, 0, bytearray()
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=2_000, max_records=5_000)
            if not batches:
                break
            for records in batches.values():
                for record in records:
                    count += 1
                    size += len(record.key or b"") + len(record.value or b"")
                    if len(sample) < 1_000_000:
                        sample += (record.key or b"") + (record.value or b"")
    finally:
        await consumer.stop()
    ratio = len(sample) / len(gzip.compress(bytes(sample))) if sample else 0.0
    return count, size, ratio


@dataclass(frozen=True, slots=True)
class Figures:
    """One run's costs per decision: microseconds of CPU, Redis commands."""

    api_us: float
    redis_us: float  # every node, replicas included
    masters_us: float
    commands: float  # every command but INFO, EVALSHA included


def run(
    args: argparse.Namespace,
    name: str,
    redis_url: str,
    bootstrap: str,
    tree: Path = ROOT,
    rate: float = 0,
) -> Figures:
    """One server measured (the code in `tree`) at `rate` requests a second (0: wrk, closed
    loop): what it printed, and its figures."""
    prefix = f"capacity-{uuid.uuid4().hex[:8]}"
    topic = f"{prefix}.scored"
    port = free_port()
    scratch = Path(tempfile.mkdtemp(prefix=f"{prefix}-"))
    env = os.environ | {
        "FRAUD_API_KEYS": digest(KEY),
        "FRAUD_REDIS_URL": redis_url,
        "FRAUD_REDIS_PREFIX": prefix,
        "FRAUD_MODEL_DIR": str(args.model.resolve()),
        "FRAUD_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "FRAUD_AUDIT_TOPIC": topic,
        "FRAUD_AUDIT_IDEMPOTENCE": "false",  # tansu
        "FRAUD_AUDIT_DURABILITY": args.durability,
        "FRAUD_AUDIT_LOG_DIR": str(scratch / "audit-log"),
        "FRAUD_SPOOL_PATH": str(scratch / "audit.spool"),
        "FRAUD_REDIS_BUDGET_MS": "2000",  # full answers only (see bench_api.py)
        "FRAUD_EVENT_TIME": "replay",
    }
    # As `fraud serve` logs (the access line is part of a decision's cost).
    process = start_server("app.main:create_app", port, env, tree, scratch / "api.log")
    try:
        measure(port, 3, args.connections)  # warm-up
        calls_before, redis_cpu_before, masters_before = redis_snapshot(redis_url)
        api_user_before, api_system_before = cpu_times(process.pid)
        answered_before = answered(port)
        if rate:
            asyncio.run(paced(port, rate, args.seconds))
            rps = rate
        else:
            rps, _ = measure(port, args.seconds, args.connections)
        decisions = answered(port) - answered_before
        api_user, api_system = cpu_times(process.pid)
        api_user, api_system = api_user - api_user_before, api_system - api_system_before
        api_cpu = api_user + api_system
        calls_after, redis_cpu_after, masters_after = redis_snapshot(redis_url)
        degraded = scraped_total(
            httpx.get(f"http://127.0.0.1:{port}/metrics").text, "fraud_degraded_total"
        )
    finally:
        stop(process)  # flushes the producer
        if "+cluster://" in redis_url:
            delete_cluster_keys(redis_url, prefix)
        else:
            delete_keys(redis_url, prefix)
        shutil.rmtree(scratch, ignore_errors=True)
    commands = {
        name: (calls_after[name] - calls_before.get(name, 0)) / decisions
        for name in calls_after
        if calls_after[name] - calls_before.get(name, 0) > 0 and name not in ("info",)
    }
    records, size, ratio = asyncio.run(topic_sizes(bootstrap, topic))
    api_us = api_cpu / decisions * 1e6
    redis_us = (redis_cpu_after - redis_cpu_before) / decisions * 1e6
    masters_us = (masters_after - masters_before) / decisions * 1e6
    print(f"== {name}" + (f" ({tree})" if tree != ROOT else ""))
    load = f"{rate:g}/s paced" if rate else f"{rps:,.0f}/s, wrk"
    print(f"decisions: {decisions:,} in {args.seconds} s ({load}), degraded {degraded:.0f}")
    print(
        f"API process CPU per decision: {api_us:.0f} us ({api_system / api_cpu:.0%} in the "
        f"kernel) -> {1e6 / api_us:,.0f} decisions/s per core"
    )
    print(
        f"Redis commands per decision: {sum(commands.values()):.1f}: "
        + ", ".join(f"{n} {v:.3f}" for n, v in sorted(commands.items(), key=lambda kv: -kv[1]))
    )
    print(
        f"Redis CPU per decision: {redis_us:.1f} us on every node, {masters_us:.1f} us on the"
        f" masters -> {1e6 / masters_us:,.0f} decisions/s per master core"
    )
    print(
        f"audit records: {records:,} (warm-up included), {size / max(records, 1):,.0f} bytes each"
        f" (key + value); gzip ratio on a sample {ratio:.1f}x"
    )
    return Figures(api_us, redis_us, masters_us, sum(commands.values()))


FLOORS = {
    "bare ASGI + orjson": "loadtest.noop_app:create_raw_app",
    "plain FastAPI": "loadtest.noop_app:create_plain_app",
}


def floor_us(app: str, rate: float, seconds: int) -> float:
    """CPU per request of `app` under the same open loop as /v1/score's at `rate`."""
    port = free_port()
    process = start_server(app, port, dict(os.environ))
    try:
        asyncio.run(paced(port, 200, 2))  # warm-up
        user_before, system_before = cpu_times(process.pid)
        sent = asyncio.run(paced(port, rate, seconds))
        user, system = cpu_times(process.pid)
    finally:
        stop(process)
    return (user - user_before + system - system_before) / sent * 1e6


def print_floors(score_us: float, rate: float, seconds: int) -> None:
    for name, app in FLOORS.items():
        us = floor_us(app, rate, seconds)
        print(
            f"{name} at {rate:g}/s: {us:.0f} us of CPU per request; /v1/score costs "
            f"{score_us / us:.2f}x that"
        )


def answered(port: int) -> float:
    metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    return scraped_total(metrics, "fraud_score_latency_seconds_count")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, default=Path("models/bench"))
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=128)
    parser.add_argument("--cluster", action="store_true", help="also on a Redis Cluster")
    parser.add_argument(
        "--rate",
        type=float,
        nargs="+",
        default=[0],
        help="an open loop at this many requests a second (e.g. 50) instead of wrk; several "
        "rates are measured in turn",
    )
    parser.add_argument(
        "--floors",
        action="store_true",
        help="with --rate: also measure a bare ASGI endpoint and a plain FastAPI one at each rate",
    )
    parser.add_argument("--durability", choices=("memory", "log"), default="memory")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="also measure the code in this directory (e.g. a `git archive` of an earlier "
        "commit), alternating with this one, and print the ratio of the API's CPU per "
        "decision",
    )
    parser.add_argument("--rounds", type=int, default=1, help="with --baseline")
    args = parser.parse_args()
    if not (args.model / "manifest.json").exists():
        raise SystemExit(f"no model at {args.model}: run loadtest/bench_inference.py first")
    with ExitStack() as stack:
        redis_url = ensure_server(
            "Redis", get_settings().redis_url, redis_reachable, RedisServer, stack, print
        )
        broker = TansuBroker().start()
        stack.callback(broker.cleanup)
        servers = {"one Redis node": redis_url}
        if args.cluster:
            cluster_url = os.environ.get("FRAUD_BENCH_CLUSTER_URL", "")
            if not (cluster_url and cluster_reachable(cluster_url)):
                cluster = RedisClusterServer().start()
                stack.callback(cluster.cleanup)
                cluster_url = cluster.url
            servers["Redis Cluster (3 masters, 3 replicas)"] = cluster_url
        if args.baseline:
            compare(args, servers, broker.bootstrap)
            return
        for rate in args.rate:
            for name, url in servers.items():
                figures = run(args, name, url, broker.bootstrap, rate=rate)
                if args.floors and rate:
                    print_floors(figures.api_us, rate, args.seconds)


def compare(args: argparse.Namespace, servers: dict[str, str], bootstrap: str) -> None:
    """This code and the baseline's, alternating (this machine's speed drifts), at each rate
    and on each server: the medians of the rounds side by side, with their ratios."""
    trees = {"this code": ROOT, "baseline": args.baseline.resolve()}
    table: list[tuple[str, dict[str, list[Figures]]]] = []
    for rate in args.rate:
        for server, url in servers.items():
            figures: dict[str, list[Figures]] = {name: [] for name in trees}
            for round_ in range(args.rounds):
                order = list(trees.items()) if round_ % 2 == 0 else list(reversed(trees.items()))
                for name, tree in order:
                    title = f"{server}, {rate:g}/s, round {round_ + 1}, {name}"
                    figures[name].append(run(args, title, url, bootstrap, tree, rate))
            load = f"{rate:g}/s paced" if rate else "wrk"
            table.append((f"{server}, {load}", figures))
    print(f"\nper decision, medians of {args.rounds} round(s): this code / the baseline (ratio)")
    for title, figures in table:
        print(f"{title}:")
        for label, field in (
            ("Redis commands", "commands"),
            ("Redis CPU, masters (us)", "masters_us"),
            ("Redis CPU, every node (us)", "redis_us"),
            ("API CPU (us)", "api_us"),
        ):
            mine = statistics.median(getattr(f, field) for f in figures["this code"])
            theirs = statistics.median(getattr(f, field) for f in figures["baseline"])
            print(f"  {label:<28}{mine:>9.1f} / {theirs:>9.1f}  (x{mine / theirs:.3f})")


if __name__ == "__main__":
    main()
