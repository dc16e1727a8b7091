"""Frame times of the operations console at 1,000 decisions a second: audit events in the
real format (persistence/message_format.py) produced to the audit topic at a steady rate,
a real `fraud serve` streaming them to the console's live view in Debian's headless
chromium (tests/e2e/console/drive.mjs), requestAnimationFrame intervals measured in the
page meanwhile. Prints p50 / p95 / max frame time, frames over 50 ms and the rate at which
the feed rendered rows. A benchmark that prints figures, not a test.

    .venv/bin/python -m loadtest.console_frames [--model models/bench] [--rate 1000] [--seconds 20]

Needs the built console (`make console`), /usr/bin/chromium (scripts/debian-packages.sh) and a
model (loadtest/bench_inference.py trains models/bench). Redis and PostgreSQL: the
configured ones if they answer, else local ones for the run; Kafka: a tansu broker of its
own.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from app.auth import digest
from app.schemas.score import EXAMPLE
from app.settings import get_settings
from cli.demo import ensure_server
from loadtest.bench_api import drop_schema
from localservers import (
    PostgresServer,
    RedisServer,
    TansuBroker,
    delete_keys,
    free_port,
    postgres_reachable,
    redis_reachable,
    wait_until_ready,
)
from persistence.message_format import audit_event

ROOT = Path(__file__).resolve().parent.parent
FRONTEND = ROOT / "frontend"
DRIVER = ROOT / "tests" / "e2e" / "console" / "drive.mjs"
SHOTS = ROOT / "reports" / "console"
KEY = f"fk_bench_console_{uuid.uuid4().hex}"
FRAUD = str(Path(sys.executable).with_name("fraud"))
# Tier mix of a busy day, and the default FRAUD_DECISIONS.
TIERS = {"low": 0.9, "medium": 0.06, "high": 0.03, "critical": 0.01}
DECISIONS = {"low": "approve", "medium": "review", "high": "review", "critical": "decline"}
SCORES = {"low": (0.0, 0.3), "medium": (0.3, 0.6), "high": (0.6, 0.9), "critical": (0.9, 1.0)}


def event(n: int, rng: random.Random) -> tuple[bytes, bytes]:
    """One audit event (key, value) as the API publishes it."""
    now = datetime.now(UTC)
    tier = rng.choices(list(TIERS), list(TIERS.values()))[0]
    card = f"card_{rng.randrange(50_000)}"
    request = dict(EXAMPLE) | {
        "transaction_id": f"cf_{n}",
        "timestamp": now.isoformat(),
        "card_id": card,
        "amount": round(rng.lognormvariate(3.5, 1.0), 2),
    }
    response = {
        "transaction_id": request["transaction_id"],
        "score": round(rng.uniform(*SCORES[tier]), 4),
        "risk_tier": tier,
        "decision": DECISIONS[tier],
        "decision_source": "model",
        "rules": [],
        "list": None,
        "reasons": [
            {"feature": "card_count_1h", "value": 3.0, "contribution": 0.12},
            {"feature": "amount", "value": request["amount"], "contribution": 0.08},
        ],
        "components": {"xgboost": 0.5, "isolation_forest": 0.4},
        "model_version": "bench-console",
        "degraded": False,
        "latency_ms": round(rng.uniform(1.0, 4.0), 2),
    }
    return card.encode(), audit_event(request, orjson.dumps(response), now, "frames")


async def produce(bootstrap: str, topic: str, rate: float, stop: asyncio.Event) -> int:
    """Events at `rate` a second, in 10 ms ticks, until `stop`; how many were sent."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, enable_idempotence=False)
    await producer.start()
    rng = random.Random(7)
    sent = 0
    try:
        started = time.monotonic()
        while not stop.is_set():
            due = int((time.monotonic() - started) * rate)
            while sent < due:
                key, value = event(sent, rng)
                await producer.send(topic, value, key=key)
                sent += 1
            await asyncio.sleep(0.01)
        await producer.flush()
    finally:
        await producer.stop()
    return sent


async def measure(base: str, bootstrap: str, topic: str, args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    # The topic exists, and the server's feed is at its end, before the browser connects.
    producing = asyncio.create_task(produce(bootstrap, topic, args.rate, stop))
    await asyncio.sleep(2)
    SHOTS.mkdir(parents=True, exist_ok=True)
    options = {
        "mode": "frames",
        "base": base,
        "key": KEY,
        "frontend": str(FRONTEND),
        "shots": str(SHOTS),
        "frameSeconds": args.seconds,
    }
    started = time.monotonic()
    browser = await asyncio.create_subprocess_exec(
        "node",
        str(DRIVER),
        orjson.dumps(options).decode(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await browser.communicate()
    elapsed = time.monotonic() - started
    stop.set()
    sent = await producing
    if browser.returncode != 0:
        raise SystemExit(f"the browser driver failed:\n{err.decode()[-4000:]}")
    seen: dict[str, Any] = orjson.loads(out)
    if "failed" in seen:
        raise SystemExit(f"the browser driver failed: {seen['failed']}")
    f = seen["frames"]
    print(f"produced {sent:,} audit events in {elapsed + 2:.1f} s (target {args.rate:g}/s)")
    print(
        f"frame times over {f['seconds']} s ({f['frames']} frames): p50 {f['p50_ms']} ms, "
        f"p95 {f['p95_ms']} ms, max {f['max_ms']} ms, {f['long_frames']} frames over 50 ms"
    )
    print(
        f"stream: {f['delivered_per_s']} decisions/s reached the page, {f['dropped']:,} "
        f"dropped by the server for it, in {f['bursts_per_s']} bursts/s; "
        f"feed: {f['rendered_rows']:,} distinct rows rendered, "
        f"{f['rendered_per_s']}/s (virtualised: only the rows in view are drawn)"
    )
    if seen["console_errors"]:
        print(f"console errors: {seen['console_errors'][:5]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=Path("models/bench"))
    parser.add_argument("--rate", type=float, default=1000.0, help="decisions a second")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured in the page")
    args = parser.parse_args()
    for needed, how in (
        (args.model / "manifest.json", "run loadtest/bench_inference.py (it trains one)"),
        (FRONTEND / "dist" / "index.html", "run `make console`"),
        (Path("/usr/bin/chromium"), "run scripts/debian-packages.sh"),
    ):
        if not needed.exists():
            raise SystemExit(f"{needed} is missing: {how}")
    settings = get_settings()
    with ExitStack() as stack:
        redis_url = ensure_server(
            "Redis", settings.redis_url, redis_reachable, RedisServer, stack, print
        )
        database_url = ensure_server(
            "PostgreSQL", settings.database_url, postgres_reachable, PostgresServer, stack, print
        )
        broker = TansuBroker().start()
        stack.callback(broker.cleanup)
        prefix, topic = f"cf{uuid.uuid4().hex[:8]}", f"cf{uuid.uuid4().hex[:8]}.scored"
        stack.callback(delete_keys, redis_url, prefix)
        stack.callback(drop_schema, database_url, prefix)
        port = free_port()
        env = os.environ | {
            "FRAUD_ENVIRONMENT": "test",
            "FRAUD_ADMIN_API_KEYS": digest(KEY),
            "FRAUD_REDIS_URL": redis_url,
            "FRAUD_REDIS_PREFIX": prefix,
            "FRAUD_DATABASE_URL": database_url,
            "FRAUD_DATABASE_SCHEMA": prefix,
            "FRAUD_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
            "FRAUD_AUDIT_TOPIC": topic,
            "FRAUD_AUDIT_IDEMPOTENCE": "false",  # tansu refuses InitProducerId
            "FRAUD_MODEL_DIR": str(args.model),
            "FRAUD_CONSOLE_DIR": str(FRONTEND / "dist"),
        }
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        log = stack.enter_context(tempfile.TemporaryFile())
        server = subprocess.Popen(
            [FRAUD, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=log
        )

        def stop_server() -> None:
            server.send_signal(signal.SIGTERM)
            server.wait(30)

        stack.callback(stop_server)
        base = f"http://127.0.0.1:{port}"
        wait_until_ready(base, server, 60)
        print(f"fraud serve at {base}, {args.rate:g} decisions/s for {args.seconds:g} s")
        asyncio.run(measure(base, broker.bootstrap, topic, args))


if __name__ == "__main__":
    main()
