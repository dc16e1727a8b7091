"""`fraud serve --local`: the API against the configured Redis and PostgreSQL where they
answer, else local ones started as `fraud demo` starts them, and stopped at exit.

Kafka is left as configured: without `FRAUD_KAFKA_BOOTSTRAP_SERVERS` there is no audit
log, so the history and the live stream stay empty (`make demo` runs the whole path).
"""

from __future__ import annotations

import os
import signal
from contextlib import ExitStack

from app.auth import new_key
from app.settings import Settings
from cli.demo import Say, console_line, ensure_server
from localservers import PostgresServer, RedisServer, postgres_reachable, redis_reachable


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def start_local(settings: Settings, stack: ExitStack, say: Say) -> dict[str, str]:
    """The environment `fraud serve` needs to run here: the stores' URLs (servers started
    here are stopped with `stack`) and, when no API key is configured, a new one (printed
    once, its digest in the settings)."""
    # uvicorn re-raises SIGTERM once it has shut down: as KeyboardInterrupt (which
    # uvicorn.run swallows) it lets `stack` stop the servers started here; SIG_DFL would
    # end the process first and leave them running.
    signal.signal(signal.SIGTERM, _interrupt)
    env = {
        "FRAUD_REDIS_URL": ensure_server(
            "redis", settings.redis_url, redis_reachable, RedisServer, stack, say
        ),
        "FRAUD_DATABASE_URL": ensure_server(
            "postgres", settings.database_url, postgres_reachable, PostgresServer, stack, say
        ),
    }
    if not settings.api_key_digests:
        key, key_digest = new_key()
        env["FRAUD_API_KEYS"] = key_digest
        # Alone in the key lists, a scoring key holds every scope (outside production,
        # which refuses to start without keys anyway).
        others = settings.read_api_keys or settings.review_api_keys or settings.admin_api_keys
        scopes = "scores only: other key lists are set" if others else "every scope"
        say(f"API key:  {key}  ({scopes}; a new one each run)")
    if not settings.kafka_bootstrap_servers:
        say("kafka:    none configured: no audit log, so no history or live stream")
    return env


def where(settings: Settings) -> str:
    base = f"http://{settings.host}:{settings.port}"
    return (
        f"API:      {base}  (Swagger: {base}/docs, metrics: {base}/metrics)\n"
        f"{console_line(settings.console_dir, base)}\n"
        "Ctrl-C stops the API and the servers started here"
    )


def apply(env: dict[str, str]) -> None:
    """Into this process's environment, where `fraud serve`'s workers read their
    settings."""
    os.environ.update(env)
