"""The cost of FRAUD_AUDIT_DURABILITY=log (each answered decision synced to the process's
audit log before its answer leaves) on POST /v1/score, against `memory`, side by side:
two API processes (one worker each, uvicorn as bench_api.py starts it), one per mode,
measured AT THE SAME TIME under the same traffic, so whatever else the machine runs
weighs on both alike. Both publish their audit events to one tansu broker; the log is on
this machine's disk.

    .venv/bin/python -m loadtest.bench_durability [--model models/bench] [--rate 300] [--seconds 15] [--connections 32] [--rounds 3]

Each round starts both servers afresh (windows under fresh prefixes) and measures:

- latency at a steady rate: --rate requests a second to EACH server for --seconds (open
  loop: each request timed from the moment it was due, so a stalled server's queue is
  counted): p50, p99, p99.9;
- saturation: --connections closed-loop connections to EACH server at once for --seconds:
  requests a second, and each server's CPU time per request (its threads included: the
  log's sync runs on one of them).

It also prints the log's group commits: the write + sync time on the log's thread and how
many answers each carried (from the server's /metrics). Redis: FRAUD_REDIS_URL if it
answers, else a local one; keys deleted after each round. PostgreSQL (the rule and list
syncs poll it): FRAUD_DATABASE_URL if it answers, else a local one; a fresh schema per
server, dropped after it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import httpx
import numpy as np

from app.auth import digest
from app.metrics import scraped_total
from app.settings import get_settings
from cli.demo import ensure_server
from loadtest.bench_api import (
    KEY,
    cpu_seconds,
    drop_schema,
    request_bytes,
    rules_schema,
    start_server,
)
from localservers import (
    PostgresServer,
    RedisServer,
    TansuBroker,
    delete_keys,
    free_port,
    postgres_reachable,
    redis_reachable,
    stop,
)

MODES = ("memory", "log")


Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def exchange(connection: Connection, request: bytes) -> None:
    reader, writer = connection
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(re.search(rb"content-length: (\d+)", head.lower()).group(1))  # type: ignore[union-attr]
    await reader.readexactly(length)
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(head.decode())


async def steady_rate(port: int, rate: float, seconds: float) -> list[float]:
    """Latencies (ms) of requests sent at `rate` a second, each from the moment it was due."""
    run = uuid.uuid4().hex[:8]
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(64):
        pool.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    latencies: list[float] = []
    loop = asyncio.get_running_loop()

    async def one(i: int, due: float) -> None:
        connection = await pool.get()
        try:
            await exchange(connection, request_bytes(f"{run}_{i}", i, i * 7919))
            latencies.append((loop.time() - due) * 1000)
        finally:
            pool.put_nowait(connection)

    start = loop.time() + 0.1
    tasks = []
    for i in range(int(rate * seconds)):
        due = start + i / rate
        await asyncio.sleep(max(0.0, due - loop.time()))
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    while not pool.empty():
        pool.get_nowait()[1].close()
    return latencies


async def saturate(port: int, connections: int, seconds: float) -> int:
    """Requests answered by `connections` closed-loop connections in `seconds`."""
    run = uuid.uuid4().hex[:8]
    done = 0
    deadline = asyncio.get_running_loop().time() + seconds

    async def worker(w: int) -> None:
        nonlocal done
        connection = await asyncio.open_connection("127.0.0.1", port)
        i = 0
        while asyncio.get_running_loop().time() < deadline:
            i += 1
            await exchange(connection, request_bytes(f"{run}{w}_{i}", i, i * 7919))
            done += 1
        connection[1].close()

    await asyncio.gather(*(worker(w) for w in range(connections)))
    return done


def other_threads_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process's threads but its main one (the event loop's):
    the log's thread and the default executor's (the acknowledged position's writes)."""
    total = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        if task.name == str(pid):
            continue
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # the thread ended
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def start(
    mode: str, args: argparse.Namespace, servers: tuple[str, str, str], log_root: Path
) -> tuple[subprocess.Popen[bytes], int, str, str]:
    redis_url, database_url, bootstrap = servers
    prefix = f"durab{uuid.uuid4().hex[:6]}"
    schema = rules_schema(database_url, 0)
    port = free_port()
    env = os.environ | {
        "FRAUD_DATABASE_URL": database_url,
        "FRAUD_DATABASE_SCHEMA": schema,
        "FRAUD_API_KEYS": digest(KEY),
        "FRAUD_REDIS_URL": redis_url,
        "FRAUD_REDIS_PREFIX": prefix,
        "FRAUD_MODEL_DIR": str(args.model),
        "FRAUD_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "FRAUD_AUDIT_TOPIC": f"{prefix}.scored",
        "FRAUD_AUDIT_IDEMPOTENCE": "false",  # tansu
        "FRAUD_AUDIT_DURABILITY": mode,
        "FRAUD_AUDIT_LOG_DIR": str(log_root / prefix),
        "FRAUD_SPOOL_PATH": str(log_root / f"{prefix}.spool"),
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
        "FRAUD_REDIS_BUDGET_MS": "2000",  # full answers only (see bench_api.py)
        "FRAUD_EVENT_TIME": "replay",  # the bodies carry fixed times
    }
    return start_server("app.main:create_app", port, env), port, prefix, schema


def round_(
    args: argparse.Namespace, servers: tuple[str, str, str], log_root: Path
) -> dict[str, dict[str, float]]:
    redis_url, database_url, _ = servers
    started = {mode: start(mode, args, servers, log_root) for mode in MODES}
    ports = {mode: s[1] for mode, s in started.items()}
    try:

        async def steady(seconds: float) -> dict[str, list[float]]:
            found = await asyncio.gather(
                *(steady_rate(ports[m], args.rate, seconds) for m in MODES)
            )
            return dict(zip(MODES, found, strict=True))

        async def saturated() -> dict[str, int]:
            found = await asyncio.gather(
                *(saturate(ports[m], args.connections, args.seconds) for m in MODES)
            )
            return dict(zip(MODES, found, strict=True))

        asyncio.run(steady(2))  # warm-up
        latencies = asyncio.run(steady(args.seconds))
        cpu = {m: cpu_seconds(s[0].pid) for m, s in started.items()}
        log_pid = started["log"][0].pid
        log_thread = other_threads_cpu_seconds(log_pid)
        began = time.monotonic()
        answered = asyncio.run(saturated())
        elapsed = time.monotonic() - began
        spent = {m: cpu_seconds(s[0].pid) - cpu[m] for m, s in started.items()}
        log_thread = other_threads_cpu_seconds(log_pid) - log_thread
        metrics = {m: httpx.get(f"http://127.0.0.1:{p}/metrics").text for m, p in ports.items()}
    finally:
        for process, _, prefix, schema in started.values():
            stop(process)
            delete_keys(redis_url, prefix)
            drop_schema(database_url, schema)
    out: dict[str, dict[str, float]] = {}
    for mode in MODES:
        values = np.array(latencies[mode])
        syncs = scraped_total(metrics[mode], "fraud_audit_log_sync_seconds_count")
        scored = scraped_total(metrics[mode], "fraud_score_latency_seconds_count")
        out[mode] = {
            "p50": float(np.percentile(values, 50)),
            "p99": float(np.percentile(values, 99)),
            "p999": float(np.percentile(values, 99.9)),
            "rps": answered[mode] / elapsed,
            "cpu_us": spent[mode] / answered[mode] * 1e6,
            "sync_ms": scraped_total(metrics[mode], "fraud_audit_log_sync_seconds_sum")
            / syncs
            * 1000
            if syncs
            else 0.0,
            "per_sync": scored / syncs if syncs else 0.0,
            "degraded": scraped_total(metrics[mode], "fraud_degraded_total"),
            "thread_us": log_thread / answered[mode] * 1e6 if mode == "log" else 0.0,
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, default=Path("models/bench"))
    parser.add_argument("--rate", type=float, default=300.0, help="requests/s to each server")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32, help="per server, saturated")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not (args.model / "manifest.json").exists():
        raise SystemExit(f"no model at {args.model}: run loadtest/bench_inference.py first")
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
        broker = TansuBroker().start()
        stack.callback(broker.cleanup)
        Path("var").mkdir(exist_ok=True)
        log_root = Path(stack.enter_context(tempfile.TemporaryDirectory(dir="var")))
        print(
            f"both servers at once: {args.rate:.0f} requests/s each for {args.seconds} s, then "
            f"{args.connections} saturating connections each for {args.seconds} s; "
            f"{args.rounds} rounds; the audit log under {log_root.resolve()}"
        )
        results: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
        for number in range(1, args.rounds + 1):
            measured = round_(args, (redis_url, database_url, broker.bootstrap), log_root)
            for mode in MODES:
                r = measured[mode]
                results[mode].append(r)
                print(
                    f"round {number}, {mode:6}: p50 {r['p50']:.2f} ms, p99 {r['p99']:.2f} ms,"
                    f" p99.9 {r['p999']:.2f} ms at {args.rate:.0f}/s; {r['rps']:,.0f} requests/s"
                    f" saturated, {r['cpu_us']:.0f} us CPU per request"
                    + (
                        f" ({r['thread_us']:.0f} us off the loop's thread)"
                        f"; group commit {r['sync_ms']:.3f} ms on its thread,"
                        f" {r['per_sync']:.1f} answers each"
                        if r["per_sync"]
                        else ""
                    )
                    + (f"; DEGRADED {r['degraded']:.0f}" if r["degraded"] else "")
                )
    print("\nmedians of the rounds (log against memory, measured together):")
    for key, label in (
        ("p50", "p50 ms"),
        ("p99", "p99 ms"),
        ("p999", "p99.9 ms"),
        ("rps", "requests/s saturated"),
        ("cpu_us", "CPU us per request"),
    ):
        memory = statistics.median(r[key] for r in results["memory"])
        log = statistics.median(r[key] for r in results["log"])
        pairs = ", ".join(
            f"{b[key] / a[key]:.3f}" for a, b in zip(results["memory"], results["log"], strict=True)
        )
        print(
            f"  {label:22} memory {memory:9.2f}   log {log:9.2f}   x{log / memory:.3f}"
            f" (per round {pairs})"
        )


if __name__ == "__main__":
    main()
