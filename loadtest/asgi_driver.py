"""Drive an ASGI app in-process (no sockets, no HTTP parsing): rounds of concurrent
POST /v1/score with wrk's kind of body. Used by bench_instructions.py under callgrind.

    python loadtest/asgi_driver.py APP REQUESTS [--concurrency 64] [--warm 640] [--go FILE]

--concurrency sets the requests in flight, so the computations' sizes: 1 scores each request
alone, 8 about 8 together (it prints the mean). --without-compute replaces the scoring
service's compute stage (features, models, reasons, rules) by a fixed decision: what the
rest of a request costs (the HTTP side, the service, the store's client, the audit).

--bodies FILE sends the request bodies of FILE (one JSON object a line, written by
bench_instructions.py --traffic swarm) instead of generated uniform ones: --skip K leaves
out the first K (sent by an earlier run), the next --warm warm the windows up, the next
REQUESTS are timed. --prefix P and --keep-keys let a run natively (without callgrind) warm
the windows of a prefix that the measured run then continues.

With --go, it warms up, creates FILE.ready, waits for FILE, sends REQUESTS requests,
creates FILE.done and waits for FILE to be removed: the caller measures in between.
Redis: FRAUD_REDIS_URL or the machine's, under a fresh key prefix deleted at the end. Logs
are configured as `fraud serve` configures them (JSON lines on stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging.config
import os
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson

from app.auth import digest
from localservers import delete_keys

KEY = "fk_bench_key"
Asgi = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def bodies(run: str, count: int, rng: random.Random) -> list[bytes]:
    out = []
    for i in range(count):
        card = rng.randint(1, 50_000)
        out.append(
            (
                f'{{"transaction_id":"{run}_{i}","timestamp":"2026-06-01T12:{(i // 60000) % 60:02d}:'
                f'{(i // 1000) % 60:02d}.{i % 1000:03d}Z","amount":{rng.randint(1, 300)}.'
                f'{rng.randint(0, 99):02d},"currency":"USD","card_id":"card_{card}",'
                f'"account_id":"acct_{card}","merchant_id":"m_{rng.randint(1, 5000)}",'
                f'"merchant_category":"5411","merchant_country":"US","channel":"ecommerce",'
                f'"device_id":"dev_{card}","ip_address":"10.{card % 200}.{(card // 200) % 250}.'
                f'{rng.randint(1, 250)}","latitude":40.71,"longitude":-74.0}}'
            ).encode()
        )
    return out


async def post(app: Asgi, body: bytes) -> None:
    headers = [
        (b"host", b"bench"),
        (b"content-type", b"application/json"),
        (b"authorization", f"Bearer {KEY}".encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/score",
        "raw_path": b"/v1/score",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    sent = False
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects
        raise AssertionError

    answer: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])
        elif message["type"] == "http.response.body":
            answer.append(message.get("body", b""))

    await app(scope, receive, send)
    if status != [200]:
        raise RuntimeError(f"POST /v1/score answered {status}")
    # A degraded answer skips the features: a run of them would measure the wrong path.
    if orjson.loads(b"".join(answer)).get("degraded"):
        raise RuntimeError("POST /v1/score answered degraded: is Redis reachable?")


async def send_all(app: Asgi, batch: list[bytes], concurrency: int) -> None:
    slots = asyncio.Semaphore(concurrency)

    async def one(body: bytes) -> None:
        async with slots:
            await post(app, body)

    await asyncio.gather(*(one(b) for b in batch))


async def drive(args: argparse.Namespace) -> None:
    from asgi_lifespan import LifespanManager

    from app.logs import logging_config

    # The log lines as `fraud serve` writes them (JSON on stderr): the access line is part
    # of a request's cost.
    logging.config.dictConfig(logging_config("json"))
    if args.without_compute:
        _fixed_decisions()
    module, factory = args.app.split(":")
    app = getattr(importlib.import_module(module), factory)()
    if args.bodies:
        lines = Path(args.bodies).read_bytes().splitlines()[args.skip :]
        warm, timed = lines[: args.warm], lines[args.warm : args.warm + args.requests]
        if len(timed) < args.requests:
            raise SystemExit(f"{args.bodies} holds too few bodies past {args.skip + args.warm}")
    else:
        rng = random.Random(1)
        run = uuid.uuid4().hex[:8]
        warm, timed = bodies(run + "w", args.warm, rng), bodies(run, args.requests, rng)
    async with LifespanManager(app) as manager:
        await send_all(manager.app, warm, args.concurrency)
        go = Path(args.go) if args.go else None
        if go is not None:
            go.with_suffix(".ready").touch()
            while not go.exists():
                await asyncio.sleep(0.05)
        batches = _batches()
        started, cpu = time.perf_counter(), time.process_time()
        await send_all(manager.app, timed, args.concurrency)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - started
        batches = tuple(after - before for after, before in zip(_batches(), batches, strict=True))
        if go is not None:
            go.with_suffix(".done").touch()
            while go.exists():
                await asyncio.sleep(0.05)
    if not args.requests:
        return
    print(f"{args.app}: {cpu / args.requests * 1e6:.0f} us CPU per request ({wall:.1f} s)")
    if batches[0]:
        print(f"rows per computation: {batches[1] / batches[0]:.2f}")


def _fixed_decisions() -> None:
    """The scoring service's compute stage (features, models, reasons, rules) replaced by a
    fixed decision: what everything else of a request costs."""
    import scoring.service
    from scoring.decision import Decision

    def decide(bundle: Any, _policy: Any, _reasons: Any, online: Any, reads: Any, *_: Any) -> Any:
        return [
            Decision(
                transaction.event.transaction_id,
                0.1,
                "low",
                "approve",
                "model",
                (),
                None,
                (),
                {"xgboost": 0.1, "isolation_forest": 0.2},
                bundle.version,
                read is None,
                1.0,
            )
            for transaction, read in zip(online, reads, strict=True)
        ]

    scoring.service.decide = decide  # type: ignore[assignment]


def _batches() -> tuple[float, float]:
    """Computations so far and the rows they scored (scoring/telemetry.py's BATCH_SIZE)."""
    from prometheus_client import REGISTRY

    count = REGISTRY.get_sample_value("fraud_batch_size_count") or 0.0
    return count, REGISTRY.get_sample_value("fraud_batch_size_sum") or 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("app")
    parser.add_argument("requests", type=int)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--warm", type=int, default=640)
    parser.add_argument("--go")
    parser.add_argument(
        "--without-compute", action="store_true", help="a fixed decision instead of the scoring"
    )
    parser.add_argument("--bodies", help="the request bodies, one a line")
    parser.add_argument("--skip", type=int, default=0, help="with --bodies: leave out the first")
    parser.add_argument("--prefix", help="the Redis key prefix (default: a fresh one)")
    parser.add_argument(
        "--keep-keys", action="store_true", help="leave the prefix's keys (a warm-up run)"
    )
    args = parser.parse_args()
    prefix = args.prefix or f"drv{uuid.uuid4().hex[:6]}"
    os.environ |= {
        "FRAUD_API_KEYS": digest(KEY),
        "FRAUD_REDIS_PREFIX": prefix,
        "FRAUD_REDIS_BUDGET_MS": "2000",  # full answers only, as bench_api
        "FRAUD_EVENT_TIME": "replay",  # the bodies carry fixed times
        # The rule and list syncs poll PostgreSQL in the background (every 250 ms, and
        # retrying at that pace where there is none): under callgrind a request takes long
        # enough for several polls, which would count as the request's. As seldom as the
        # settings allow.
        "FRAUD_RULES_SYNC_MS": "1000",
        "FRAUD_LIST_SYNC_S": "600",
    }
    os.environ.setdefault("FRAUD_MODEL_DIR", "models/bench")
    import uvloop

    try:
        uvloop.run(drive(args))
    finally:
        if not args.keep_keys:
            delete_keys(os.environ.get("FRAUD_REDIS_URL", "redis://127.0.0.1:6379/0"), prefix)


if __name__ == "__main__":
    main()
