"""`fraud demo`: the engine on one machine without Docker.

Trains a model if none exists, uses Redis at FRAUD_REDIS_URL or starts a local
redis-server, serves the API, and replays generated traffic against it until
Ctrl-C (or --duration). Everything it started, it stops, by PID.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from app.auth import new_key
from app.localstack import (
    free_port,
    port_free,
    redis_reachable,
    start_redis_server,
    stop,
    wait_until_ready,
)
from app.settings import Settings
from app.traffic import replay
from ensemble.progress import Progress
from ensemble.train import TrainConfig, train
from features.dataset import write_transactions
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
        key, key_digest = new_key()
        port = options.port if options.port and port_free(options.port) else free_port()
        env = os.environ | {
            "FRAUD_API_KEYS": key_digest,
            "FRAUD_REDIS_URL": redis_url,
            "FRAUD_REDIS_PREFIX": settings.redis_prefix,
            "FRAUD_MODEL_DIR": str(settings.model_dir),
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
        )
        stack.callback(stop, server)
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
        say(f"replaying {traffic} at {options.rate:g} requests/s; Ctrl-C stops everything")
        summary = asyncio.run(_replay_for(traffic, base, options, key))
        say(f"replay finished: {summary}")
        if options.duration is None:
            say("the API keeps serving; Ctrl-C stops everything")
            signal.pause()
        return summary


async def _replay_for(
    traffic: Path, base: str, options: DemoOptions, key: str
) -> dict[str, object]:
    limit = None if options.duration is None else max(1, int(options.duration * options.rate))
    return await replay(traffic, base, options.rate, key, limit=limit)
