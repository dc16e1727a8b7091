"""Throughput of POST /v1/score against two baselines, one worker process each, same
uvicorn settings, measured in one run: the no-op (same auth, limits and validation as
/v1/score, nothing else) and a plain FastAPI endpoint that validates the same body with
the pydantic model as a body parameter and returns a constant.

    .venv/bin/python -m loadtest.bench_api [--model models/bench] [--seconds 20] [--connections 128] [--rounds 3] [--rules 50 [--rules-only]] [--cluster [--cluster-only]] [--drift [--drift-only]] [--challenger DIR [--challenger-only]]

--rules N adds a fourth server, /v1/score with N active rules in service (loadtest/bench_rules.py's
shapes), and prints its throughput against /v1/score without rules;
both poll the same PostgreSQL (FRAUD_DATABASE_URL if it answers, else a local one) for
their rules, each in a schema of its own.

128 connections by default: /v1/score holds each request across a Redis round trip
(micro-batching), so with 64 in flight its process idles about a tenth of the time
waiting for Redis, and the figure measures the client's concurrency rather than the
server's throughput. The no-op gives the same figure at 64 or 128 (docs/performance.md).

--cluster adds /v1/score on a Redis Cluster (FRAUD_BENCH_CLUSTER_URL, a redis+cluster://
URL, if it answers, else a local one of three masters with one replica each, started for
the run) beside /v1/score on the single node, and prints the cluster's throughput and CPU
per request against the single node's; --cluster-only measures those two alone.

--drift adds /v1/score with drift off (FRAUD_DRIFT=false) beside /v1/score as configured
(drift on, the default) and prints the server CPU per request and the throughput of each;
--drift-only measures those two alone. The model must carry a drift reference (a bundle
trained since drift was watched): the run refuses one without.

--challenger DIR adds /v1/score with the bundle in DIR scored in shadow
(FRAUD_CHALLENGER_MODEL_DIR) beside /v1/score without one, and prints the server CPU per
request and the throughput of each; --challenger-only measures those two alone. A copy of
--model is a challenger of the same size (what a retrained model costs).

Uses wrk when installed (apt-get install wrk), else an asyncio keep-alive client.
Redis: FRAUD_REDIS_URL if it answers, else a local one started for the run; each round's
keys go under a fresh prefix, deleted after it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import asyncpg
import httpx

from app.auth import digest
from app.metrics import scraped_total
from app.settings import get_settings
from cli.demo import ensure_server
from ensemble.manifest import Manifest
from loadtest.bench_rules import rules as bench_rules
from localservers import (
    PostgresServer,
    RedisServer,
    delete_keys,
    postgres_reachable,
    redis_reachable,
    stop,
    wait_until_ready,
)
from localservers.redis_cluster import RedisClusterServer, cluster_reachable
from persistence.migrations import upgrade
from persistence.rules import save_rule

KEY = "fk_bench_key"
WRK_SCRIPT = r"""
local counter = 0
local thread_id = 0
local threads = {}
function setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end
function init(args)
  math.randomseed(os.time() + thread_id * 7919)
end
request = function()
  counter = counter + 1
  local card = math.random(1, 50000)
  local body = string.format(
    '{"transaction_id":"%s_%d_%d","timestamp":"2026-06-01T12:%02d:%02d.%03dZ","amount":%d.%02d,' ..
    '"currency":"USD","card_id":"card_%d","account_id":"acct_%d","merchant_id":"m_%d",' ..
    '"merchant_category":"5411","merchant_country":"US","channel":"ecommerce","device_id":"dev_%d",' ..
    '"ip_address":"10.%d.%d.%d","latitude":40.71,"longitude":-74.0}',
    "RUN", thread_id, counter, math.floor(counter / 60000) %% 60, math.floor(counter / 1000) %% 60,
    counter %% 1000, math.random(1, 300), math.random(0, 99), card, card, math.random(1, 5000), card,
    card %% 200, math.floor(card / 200) %% 250, math.random(1, 250))
  return wrk.format("POST", "/v1/score", {["Content-Type"] = "application/json",
                                         ["Authorization"] = "Bearer KEY"}, body)
end
"""


ROOT = Path(__file__).resolve().parent.parent


def start_server(
    app: str, port: int, env: dict[str, str], tree: Path = ROOT, logs: Path | None = None
) -> subprocess.Popen[bytes]:
    """`app` as the code in `tree` has it, on uvicorn. With `logs`, its log lines are
    configured as `fraud serve` configures them (JSON, the access log included) and written
    to that file; else uvicorn's default (warnings only: no access line)."""
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    env = env | {"PYTHONPATH": str(tree)}
    if logs is None:
        process = subprocess.Popen(cmd, env=env, cwd=tree)
    else:
        config = logs.with_suffix(".config.json")
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import json, sys; from app.logs import logging_config; "
                "json.dump(logging_config('json'), open(sys.argv[1], 'w'))",
                str(config),
            ],
            env=env,
            cwd=tree,
            check=True,
        )
        cmd[cmd.index("--log-level") : cmd.index("--log-level") + 2] = ["--log-config", str(config)]
        with logs.open("ab") as written:
            process = subprocess.Popen(cmd, env=env, cwd=tree, stderr=written)
    wait_until_ready(f"http://127.0.0.1:{port}", process)
    return process


def run_wrk(port: int, seconds: int, connections: int, run: str) -> tuple[float, str]:
    script = Path(tempfile.mkdtemp()) / "score.lua"
    script.write_text(WRK_SCRIPT.replace("RUN", run).replace("KEY", KEY).replace("%%", "%"))
    out = subprocess.run(
        [
            "wrk",
            "-t",
            "1",
            "-c",
            str(connections),
            "-d",
            f"{seconds}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    if "Non-2xx" in out:
        raise RuntimeError(f"errors during the run:\n{out}")
    return rps, out


async def _asyncio_client(port: int, seconds: int, connections: int, run: str) -> float:
    done = 0
    stop = time.monotonic() + seconds

    async def worker(w: int) -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        i = 0
        while time.monotonic() < stop:
            i += 1
            writer.write(request_bytes(f"{run}_{w}_{i}", i, w * 7919 + i))
            await _answer(reader)
            done += 1
        writer.close()

    started = time.monotonic()
    await asyncio.gather(*(worker(w) for w in range(connections)))
    return done / (time.monotonic() - started)


def request_bytes(transaction_id: str, i: int, card: int) -> bytes:
    """The i-th request of a run (its time and amount follow i) as it goes on the wire."""
    body = (
        f'{{"transaction_id":"{transaction_id}","timestamp":"2026-06-01T12:00:{i % 60:02d}.{i % 1000:03d}Z",'
        f'"amount":{1 + i % 300}.5,"currency":"USD","card_id":"card_{card % 50000}",'
        f'"merchant_id":"m_{i % 5000}","merchant_category":"5411","channel":"pos"}}'
    ).encode()
    return (
        b"POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {KEY}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


async def _answer(reader: asyncio.StreamReader) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(re.search(rb"content-length: (\d+)", head.lower()).group(1))  # type: ignore[union-attr]
    await reader.readexactly(length)
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(head.decode())


async def paced(port: int, rate: float, seconds: float, connections: int = 16) -> int:
    """Open loop: request i leaves at the start + i / rate, whatever became of the ones
    before it, on whichever keep-alive connection is free; the answers (all 200)."""
    loop = asyncio.get_running_loop()
    free: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(connections):
        free.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    run = uuid.uuid4().hex[:8]

    async def one(i: int) -> None:
        reader, writer = await free.get()
        writer.write(request_bytes(f"{run}_0_{i}", i, i))
        await _answer(reader)
        free.put_nowait((reader, writer))

    started = loop.time()
    tasks = []
    for i in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, started + i / rate - loop.time()))
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    while not free.empty():
        free.get_nowait()[1].close()
    return len(tasks)


def measure(port: int, seconds: int, connections: int) -> tuple[float, str]:
    run = uuid.uuid4().hex[:8]
    if shutil.which("wrk"):
        return run_wrk(port, seconds, connections, run)
    return asyncio.run(_asyncio_client(port, seconds, connections, run)), "asyncio client"


PLAIN, NOOP, SCORE = "plain FastAPI", "no-op (parse + validate)", "/v1/score"
BASELINE = "/v1/score, baseline"
RULES = "/v1/score with rules"
DRIFT_OFF = "/v1/score, drift off"
SHADOWED = "/v1/score with a challenger"
CLUSTER = "/v1/score on a Redis Cluster"
APPS = {
    PLAIN: "loadtest.noop_app:create_plain_app",
    NOOP: "loadtest.noop_app:create_noop_app",
    SCORE: "app.main:create_app",
}


def rules_schema(database_url: str, count: int) -> str:
    """A fresh schema holding `count` rules (0: none), for one server's rule sync."""
    schema = f"bench_{uuid.uuid4().hex[:8]}"

    async def write() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            await upgrade(conn, schema)
            await conn.execute(f'SET search_path TO "{schema}"')
            for rule in bench_rules(count):  # all active: the measure
                await save_rule(conn, replace(rule, mode="active"), "bench")
        finally:
            await conn.close()

    asyncio.run(write())
    return schema


def drop_schema(database_url: str, schema: str) -> None:
    async def drop() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()

    asyncio.run(drop())


def per_round(these: list[float], those: list[float], digits: int) -> str:
    """Round by round, these over those."""
    return ", ".join(f"{a / b:.{digits}f}" for a, b in zip(these, those, strict=True))


def print_pair(
    results: dict[str, list[float]],
    cpu: dict[str, list[float]],
    these: tuple[str, str, str],
    those: tuple[str, str],
    cpu_label: str | None = None,
) -> None:
    """/v1/score one way against another, measured in the same rounds: throughput and server
    CPU per request, medians and per-round ratios. `these`: the server's name, how the
    sentence names it and how it names the other's throughput; `those`: the other server's
    name and how the CPU line names it; `cpu_label`: how the CPU line names these (default:
    as the sentence does)."""
    name, label, other_throughput = these
    other, other_label = those
    mine, theirs = statistics.median(results[name]), statistics.median(results[other])
    print(
        f"\n/v1/score {label} reaches {mine / theirs:.3f} of its throughput {other_throughput} "
        f"(medians: {mine:,.0f} vs {theirs:,.0f} requests/s; per round "
        f"{per_round(results[name], results[other], 3)})"
    )
    mine_us, theirs_us = statistics.median(cpu[name]), statistics.median(cpu[other])
    print(
        f"server CPU per request: {mine_us:.0f} us {cpu_label or label}, {theirs_us:.0f} us "
        f"{other_label}: x{mine_us / theirs_us:.3f} (per round "
        f"{per_round(cpu[name], cpu[other], 3)})"
    )


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux /proc)."""
    return sum(cpu_times(pid))


def cpu_times(pid: int) -> tuple[float, float]:
    """User and system CPU time of a process so far, apart (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def run_one(
    app: str, env: dict[str, str], seconds: int, connections: int, tree: Path = ROOT
) -> tuple[float, float, str]:
    """Start one server, warm it up, measure it, stop it: its requests a second, and the
    server's CPU time per request in microseconds (less sensitive than throughput to what
    else this shared machine runs)."""
    process = start_server(app, 8790, env, tree)
    try:
        measure(8790, 3, connections)  # warm-up
        cpu = cpu_seconds(process.pid)
        started = time.monotonic()
        rps, detail = measure(8790, seconds, connections)
        elapsed = time.monotonic() - started
        cpu_us = (cpu_seconds(process.pid) - cpu) / (rps * elapsed) * 1e6
        detail += f"\nServer CPU per request: {cpu_us:.0f} us"
        if app.startswith("app."):
            metrics = httpx.get("http://127.0.0.1:8790/metrics").text
            degraded = scraped_total(metrics, "fraud_degraded_total")
            if degraded:
                detail += f"\nDEGRADED answers: {degraded:.0f}"
            detail += f"\nRules in service: {scraped_total(metrics, 'fraud_rules'):.0f}"
            binned = scraped_total(metrics, "fraud_drift_window_rows")
            detail += f"\nDrift window rows: {binned:.0f}" if binned else "\nDrift: not binned"
            shadowed = scraped_total(metrics, "fraud_challenger_decisions_total")
            if shadowed:
                detail += f"\nChallenger decisions: {shadowed:.0f}"
            answered = scraped_total(metrics, "fraud_score_latency_seconds_count")
            in_rules = scraped_total(metrics, "fraud_rules_seconds_sum")
            if in_rules:
                detail += f"\nRules evaluation: {in_rules / answered * 1e6:.1f} us per request"
    finally:
        stop(process)
    return rps, cpu_us, detail


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, default=Path("models/bench"))
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rules", type=int, default=0, help="also measure with this many rules")
    parser.add_argument(
        "--cluster",
        action="store_true",
        help="also measure /v1/score on a Redis Cluster (FRAUD_BENCH_CLUSTER_URL or a local one)",
    )
    parser.add_argument(
        "--cluster-only",
        action="store_true",
        help="with --cluster: only /v1/score on the single node and on the cluster",
    )
    parser.add_argument(
        "--rules-only",
        action="store_true",
        help="with --rules: only /v1/score with and without the rules (no baselines)",
    )
    parser.add_argument(
        "--drift",
        action="store_true",
        help="also measure /v1/score with drift off (FRAUD_DRIFT=false) beside drift on",
    )
    parser.add_argument(
        "--drift-only",
        action="store_true",
        help="with --drift: only /v1/score with drift on and off (no baselines)",
    )
    parser.add_argument(
        "--challenger",
        type=Path,
        help="also measure /v1/score with this bundle as the challenger in shadow",
    )
    parser.add_argument(
        "--challenger-only",
        action="store_true",
        help="with --challenger: only /v1/score with and without it (no baselines)",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="also measure /v1/score as the code in this directory has it (e.g. a `git "
        "archive` of an earlier commit), in the same rounds, and print the ratio",
    )
    args = parser.parse_args()
    if not (args.model / "manifest.json").exists():
        raise SystemExit(
            f"no model at {args.model}: run loadtest/bench_inference.py first (it trains one)"
        )
    if args.drift and not Manifest.read(args.model).drift:
        raise SystemExit(
            f"{args.model} has no drift reference (trained before drift was watched): drift "
            "on and off would measure the same; train it again (loadtest/bench_inference.py "
            "trains one where none is)"
        )
    with ExitStack() as stack:
        redis_url = ensure_server(
            "Redis", get_settings().redis_url, redis_reachable, RedisServer, stack, print
        )
        database_url = ensure_server(
            "PostgreSQL",
            get_settings().database_url,
            postgres_reachable,
            PostgresServer,
            stack,
            print,
        )
        cluster_url = bench_cluster(stack) if args.cluster else None
        compare(args, redis_url, database_url, cluster_url)


def bench_cluster(stack: ExitStack) -> str:
    """FRAUD_BENCH_CLUSTER_URL if it answers, else a local cluster for this run."""
    url = os.environ.get("FRAUD_BENCH_CLUSTER_URL", "")
    if url and cluster_reachable(url):
        print(f"Redis Cluster: {url}")
        return url
    cluster = RedisClusterServer().start()
    stack.callback(cluster.cleanup)
    print(f"Redis Cluster: a local one (3 masters, 3 replicas) at {cluster.url}")
    return cluster.url


def compare(
    args: argparse.Namespace, redis_url: str, database_url: str, cluster_url: str | None = None
) -> None:
    apps = APPS | ({RULES: APPS[SCORE]} if args.rules else {})
    if args.rules and args.rules_only:
        apps = {SCORE: APPS[SCORE], RULES: APPS[SCORE]}
    if cluster_url:
        apps = ({SCORE: APPS[SCORE]} if args.cluster_only else apps) | {CLUSTER: APPS[SCORE]}
    if args.baseline:
        apps |= {BASELINE: APPS[SCORE]}
    if args.drift:
        apps = ({SCORE: APPS[SCORE]} if args.drift_only else apps) | {DRIFT_OFF: APPS[SCORE]}
    if args.challenger:
        apps = ({SCORE: APPS[SCORE]} if args.challenger_only else apps) | {SHADOWED: APPS[SCORE]}
    env = os.environ | {
        "FRAUD_DATABASE_URL": database_url,
        "FRAUD_API_KEYS": digest(KEY),
        "FRAUD_REDIS_URL": redis_url,
        "FRAUD_MODEL_DIR": str(args.model.resolve()),
        # Measure full answers: with the default 25 ms budget a saturated server answers
        # part of the load degraded (cheaper), which would flatter the figure.
        "FRAUD_REDIS_BUDGET_MS": "2000",
        "FRAUD_EVENT_TIME": "replay",  # the bodies carry fixed times
    }
    tool = "wrk" if shutil.which("wrk") else "asyncio client"
    print(
        f"load generator: {tool}, {args.connections} connections, {args.seconds} s each, "
        f"{args.rounds} rounds, 1 server worker"
    )
    results: dict[str, list[float]] = {name: [] for name in apps}
    cpu: dict[str, list[float]] = {name: [] for name in apps}
    # Alternate them (plain, no-op, score, plain, ...): this machine's speed drifts
    # over minutes, and interleaving spreads the drift over all of them.
    for round_ in range(1, args.rounds + 1):
        # Every other round in the reverse order: whatever a run leaves behind for the next
        # (keys being freed, a schema dropped) falls on each of them as often.
        order = list(apps.items()) if round_ % 2 else list(reversed(apps.items()))
        for name, app in order:
            # Each round starts from empty windows under its own prefix: windows fill as
            # a run goes on, and a later round on full ones would do more work per request.
            prefix = f"bench{uuid.uuid4().hex[:6]}"
            schema = rules_schema(database_url, args.rules if name == RULES else 0)
            store_url = cluster_url if name == CLUSTER and cluster_url else redis_url
            try:
                rps, cpu_us, detail = run_one(
                    app,
                    env
                    | {
                        "FRAUD_REDIS_PREFIX": prefix,
                        "FRAUD_DATABASE_SCHEMA": schema,
                        "FRAUD_REDIS_URL": store_url,
                    }
                    | ({"FRAUD_DRIFT": "false"} if name == DRIFT_OFF else {})
                    | (
                        {"FRAUD_CHALLENGER_MODEL_DIR": str(args.challenger.resolve())}
                        if name == SHADOWED
                        else {}
                    ),
                    args.seconds,
                    args.connections,
                    args.baseline.resolve() if name == BASELINE else ROOT,
                )
            finally:
                delete_keys(store_url, prefix)
                drop_schema(database_url, schema)
            results[name].append(rps)
            cpu[name].append(cpu_us)
            print(f"\n== round {round_}, {name}: {rps:,.0f} requests/s")
            print(
                "\n".join(
                    line
                    for line in detail.splitlines()
                    if re.search(r"Latency|50%|90%|99%|Req|DEGR|Rules|CPU|Drift|Challenger", line)
                )
            )
    score = statistics.median(results[SCORE])
    for name in (NOOP, PLAIN) if NOOP in apps else ():
        base = statistics.median(results[name])
        ratios = per_round(results[SCORE], results[name], 2)
        print(
            f"\n/v1/score reaches {score / base:.2f} of the {name} throughput (medians of "
            f"{args.rounds} rounds: {score:,.0f} vs {base:,.0f} requests/s; per round {ratios})"
        )
    if args.baseline:
        base = statistics.median(results[BASELINE])
        ratios = per_round(results[SCORE], results[BASELINE], 2)
        plain = (
            f"; the baseline reaches {base / statistics.median(results[PLAIN]):.2f} of the "
            "plain FastAPI"
            if PLAIN in results
            else ""
        )
        print(
            f"\n/v1/score reaches {score / base:.2f} of the baseline's throughput (medians: "
            f"{score:,.0f} vs {base:,.0f} requests/s; per round {ratios}){plain}"
        )
        mine, theirs = statistics.median(cpu[SCORE]), statistics.median(cpu[BASELINE])
        print(
            f"server CPU per request: {mine:.0f} us, the baseline's {theirs:.0f} us: "
            f"x{mine / theirs:.3f}"
        )
    if args.rules:
        ruled = statistics.median(results[RULES])
        ratios = per_round(results[RULES], results[SCORE], 3)
        print(
            f"\n/v1/score with {args.rules} rules reaches {ruled / score:.3f} of /v1/score "
            f"without rules (medians: {ruled:,.0f} vs {score:,.0f} requests/s; per round {ratios})"
        )
        with_rules, without = statistics.median(cpu[RULES]), statistics.median(cpu[SCORE])
        print(
            f"server CPU per request: {with_rules:.0f} us with {args.rules} rules, "
            f"{without:.0f} us without: x{with_rules / without:.3f} (per round "
            f"{per_round(cpu[RULES], cpu[SCORE], 3)}); "
            f"the throughput a saturated core would keep: {without / with_rules:.3f}"
        )

    if args.drift:
        print_pair(results, cpu, (SCORE, "with drift on", "with drift off"), (DRIFT_OFF, "off"))

    if args.challenger:
        print_pair(
            results,
            cpu,
            (SHADOWED, "with a challenger in shadow", "without one"),
            (SCORE, "without"),
            cpu_label="with a challenger",
        )

    if cluster_url:
        on_cluster = statistics.median(results[CLUSTER])
        ratios = per_round(results[CLUSTER], results[SCORE], 3)
        print(
            f"\n/v1/score on the Redis Cluster reaches {on_cluster / score:.3f} of /v1/score "
            f"on one Redis node (medians: {on_cluster:,.0f} vs {score:,.0f} requests/s; "
            f"per round {ratios})"
        )
        clustered, single = statistics.median(cpu[CLUSTER]), statistics.median(cpu[SCORE])
        print(
            f"server CPU per request: {clustered:.0f} us on the cluster, {single:.0f} us on "
            f"one node: x{clustered / single:.3f}"
        )


if __name__ == "__main__":
    main()
