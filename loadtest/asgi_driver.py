"""Drive an ASGI app in-process (no sockets, no HTTP parsing): rounds of concurrent
POST /v1/score with wrk's kind of body. Used by bench_instructions.py under callgrind.

    python loadtest/asgi_driver.py APP REQUESTS [--concurrency 64] [--warm 640] [--go FILE]

With --go, it warms up, creates FILE.ready, waits for FILE, sends REQUESTS requests,
creates FILE.done and waits for FILE to be removed: the caller measures in between.
Redis: FRAUD_REDIS_URL or the machine's, under a fresh key prefix deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

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

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(scope, receive, send)
    if status != [200]:
        raise RuntimeError(f"POST /v1/score answered {status}")


async def send_all(app: Asgi, batch: list[bytes], concurrency: int) -> None:
    slots = asyncio.Semaphore(concurrency)

    async def one(body: bytes) -> None:
        async with slots:
            await post(app, body)

    await asyncio.gather(*(one(b) for b in batch))


async def drive(args: argparse.Namespace) -> None:
    from asgi_lifespan import LifespanManager

    module, factory = args.app.split(":")
    app = getattr(importlib.import_module(module), factory)()
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
        started, cpu = time.perf_counter(), time.process_time()
        await send_all(manager.app, timed, args.concurrency)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - started
        if go is not None:
            go.with_suffix(".done").touch()
            while go.exists():
                await asyncio.sleep(0.05)
    print(f"{args.app}: {cpu / args.requests * 1e6:.0f} us CPU per request ({wall:.1f} s)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("app")
    parser.add_argument("requests", type=int)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--warm", type=int, default=640)
    parser.add_argument("--go")
    args = parser.parse_args()
    prefix = f"drv{uuid.uuid4().hex[:6]}"
    os.environ |= {
        "FRAUD_API_KEYS": digest(KEY),
        "FRAUD_REDIS_PREFIX": prefix,
        "FRAUD_REDIS_BUDGET_MS": "2000",  # full answers only, as bench_api
        "FRAUD_EVENT_TIME": "replay",  # the bodies carry fixed times
    }
    os.environ.setdefault("FRAUD_MODEL_DIR", "models/bench")
    import uvloop

    try:
        uvloop.run(drive(args))
    finally:
        delete_keys(os.environ.get("FRAUD_REDIS_URL", "redis://127.0.0.1:6379/0"), prefix)


if __name__ == "__main__":
    main()
