"""`fraud demo`: the engine on one machine without Docker.

Trains a model if none exists; uses Redis, Kafka and PostgreSQL at their
configured addresses or starts local ones (redis-server, the tansu broker, an
initdb cluster); serves the API, runs the consumer (`fraud consume`) so the
decisions are queryable, and replays generated traffic against it until Ctrl-C
(or --duration). Everything it started, it stops, by PID.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
import redis

from app.auth import new_key
from app.settings import Settings
from cli.traffic import replay
from ensemble.progress import Progress
from ensemble.train import TrainConfig, train
from features.dataset import write_transactions
from localservers import (
    delete_keys,
    free_port,
    init_postgres,
    port_free,
    postgres_reachable,
    redis_reachable,
    start_postgres,
    start_redis_server,
    start_tansu,
    stop,
    stop_postgres,
    tcp_reachable,
    wait_until_ready,
)
from synthetic.generator import GeneratorConfig, generate

Say = Callable[[str], None]


@dataclass(slots=True)
class DemoOptions:
    days: int = 45
    cards: int = 4_000
    port: int = 8000
    rate: float = 50.0
    duration: float | None = None


def ensure_model(settings: Settings, options: DemoOptions, progress: Progress, say: Say) -> None:
    if (settings.model_dir / "manifest.json").exists():
        say(f"model: {settings.model_dir} (exists; delete it to retrain)")
        return
    history = settings.data_dir / f"history_{options.days}d_{options.cards}.parquet"
    if not history.exists():
        say(f"generating {options.days} days of history for {options.cards:,} cards -> {history}")
        write_transactions(
            generate(GeneratorConfig(days=options.days, cards=options.cards, seed=7)), history
        )
    train(
        history,
        settings.model_dir,
        TrainConfig(label_delay_days=settings.label_delay_days),
        progress,
    )
    say(f"model: {settings.model_dir}; report: {settings.model_dir / 'report.md'}")


def ensure_redis(settings: Settings, stack: ExitStack, say: Say) -> str:
    if redis_reachable(settings.redis_url):
        say(f"redis: {settings.redis_url}")
        return settings.redis_url
    port = free_port()
    workdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="fraud-demo-redis-"))
    process = start_redis_server(port, workdir)
    stack.callback(stop, process)
    url = f"redis://127.0.0.1:{port}/0"
    say(f"redis: started redis-server (pid {process.pid}) at {url}")
    return url


def _forget_keys(url: str, prefix: str) -> None:
    with suppress(redis.RedisError):  # Redis gone by now: nothing left to delete
        delete_keys(url, prefix)


def ensure_kafka(settings: Settings, stack: ExitStack, say: Say) -> str:
    configured = settings.kafka_bootstrap_servers
    if configured and tcp_reachable(configured.split(",")[0]):
        say(f"kafka: {configured}")
        return configured
    port = free_port()
    process = start_tansu(port)
    stack.callback(stop, process)
    say(f"kafka: started the tansu broker (pid {process.pid}, memory storage) at 127.0.0.1:{port}")
    return f"127.0.0.1:{port}"


def ensure_postgres(settings: Settings, stack: ExitStack, say: Say) -> str:
    if postgres_reachable(settings.database_url):
        say(f"postgres: {settings.database_url} (schema {settings.database_schema})")
        return settings.database_url
    port = free_port()
    root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fraud-demo-pg-")))
    root.chmod(0o755)
    init_postgres(root / "data")
    process = start_postgres(root / "data", port)
    stack.callback(stop_postgres, root / "data", process)
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    say(f"postgres: started a local cluster (pid {process.pid}) at {url}")
    return url


def traffic_file(settings: Settings, cards: int) -> Path:
    path = settings.data_dir / f"traffic_{cards}.parquet"
    if not path.exists():
        write_transactions(generate(GeneratorConfig(days=14, cards=cards, seed=8)), path)
    return path


def run_demo(
    settings: Settings, options: DemoOptions, progress: Progress, say: Say
) -> dict[str, object]:
    ensure_model(settings, options, progress, say)
    with ExitStack() as stack:
        redis_url = ensure_redis(settings, stack, say)
        # Keys of this run only (the replayed file's ids would otherwise be answered as
        # retries by a second run), removed when the demo stops.
        prefix = f"{settings.redis_prefix}-demo-{os.getpid()}"
        stack.callback(_forget_keys, redis_url, prefix)
        kafka = ensure_kafka(settings, stack, say)
        database_url = ensure_postgres(settings, stack, say)
        key, key_digest = new_key()
        port = options.port if options.port and port_free(options.port) else free_port()
        env = os.environ | {
            "FRAUD_API_KEYS": key_digest,
            "FRAUD_REDIS_URL": redis_url,
            "FRAUD_REDIS_PREFIX": prefix,
            "FRAUD_MODEL_DIR": str(settings.model_dir),
            "FRAUD_KAFKA_BOOTSTRAP_SERVERS": kafka,
            "FRAUD_DATABASE_URL": database_url,
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
        )
        stack.callback(stop, server)
        consumer = subprocess.Popen([sys.executable, "-m", "cli.main", "consume"], env=env)
        stack.callback(stop, consumer)
        base = f"http://127.0.0.1:{port}"
        wait_until_ready(base, server)
        traffic = traffic_file(settings, max(500, options.cards // 2))
        say("")
        say(
            f"API:      {base}  (Swagger: {base}/docs, metrics: {base}/metrics, readiness: {base}/readyz)"
        )
        say(f"API key:  {key}")
        say(
            f"try:      curl -s -X POST {base}/v1/score -H 'Authorization: Bearer {key}' "
            "-H 'Content-Type: application/json' -d @examples/score_request.json"
        )
        say(
            f"history:  curl -s '{base}/v1/transactions?limit=5&risk_tier=high' "
            f"-H 'Authorization: Bearer {key}'"
        )
        say(
            f"live:     ws://127.0.0.1:{port}/v1/stream?api_key={key}  (decisions + 1 s aggregates)"
        )
        say(f"replaying {traffic} at {options.rate:g} requests/s; Ctrl-C stops everything")
        summary = asyncio.run(_replay_for(traffic, base, options, key))
        say(f"replay finished: {summary}")
        sent = summary.get("sent", 0)
        stored = _stored(base, key, sent if isinstance(sent, int) else 0)
        say(f"decisions stored in PostgreSQL so far: {stored}")
        if options.duration is None:
            say("the API keeps serving; Ctrl-C stops everything")
            signal.pause()
        return summary


def _stored(base: str, key: str, expected: int) -> str:
    """How many decisions the history API returns (up to 500), once the consumer caught up
    with the `expected` ones or 10 s passed."""
    found = 0
    for _ in range(40):
        page = httpx.get(
            f"{base}/v1/transactions",
            params={"limit": 500},
            headers={"Authorization": f"Bearer {key}"},
            timeout=5,
        )
        if page.status_code == 200:
            found = len(page.json()["items"])
            if found >= min(expected, 500):
                break
        time.sleep(0.25)
    return f"{found}{'+' if found == 500 else ''}"


async def _replay_for(
    traffic: Path, base: str, options: DemoOptions, key: str
) -> dict[str, object]:
    limit = None if options.duration is None else max(1, int(options.duration * options.rate))
    return await replay(traffic, base, options.rate, key, limit=limit)
