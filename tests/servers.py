"""The servers the whole suite shares: the configured Redis and PostgreSQL where they
answer, else one of each that we start once per test session from the PyPI wheels, on
first use (tests/pg.py, the `redis_url` fixture), so unit tests alone start none.

Tests that stop, pause or break a server start their own (localservers' classes) on a
free port instead; these shared ones are never stopped before the session ends.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Callable

from localservers import PostgresServer, RedisServer, postgres_reachable, redis_reachable

# Where a developer's machine already runs them (the previous kind of build machine did).
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"

REDIS_ENV = "FRAUD_TEST_REDIS_URL"
DATABASE_ENV = "FRAUD_TEST_DATABASE_URL"


class SharedServers:
    """Finds or starts the session's Redis and PostgreSQL and publishes their URLs in the
    environment (FRAUD_TEST_REDIS_URL, FRAUD_TEST_DATABASE_URL) for the tests and for the
    processes they start."""

    def __init__(self) -> None:
        self.own: list[RedisServer | PostgresServer] = []
        self.started = False

    def ensure_started(self) -> None:
        """On first use only: a run of the unit tests alone starts no server."""
        if not self.started:
            self.started = True
            atexit.register(self.stop)  # should pytest stop before unconfiguring
            self.start()

    def start(self) -> None:
        os.environ[REDIS_ENV] = self._find_or_start(
            REDIS_ENV,
            os.environ.get("FRAUD_REDIS_URL") or DEFAULT_REDIS_URL,
            redis_reachable,
            RedisServer,
        )
        os.environ[DATABASE_ENV] = self._find_or_start(
            DATABASE_ENV, DEFAULT_DATABASE_URL, postgres_reachable, PostgresServer
        )

    def _find_or_start(
        self,
        variable: str,
        default: str,
        reachable: Callable[[str], bool],
        server: type[RedisServer] | type[PostgresServer],
    ) -> str:
        """The URL in `variable`, which must answer; else `default` if it answers; else a
        server of our own."""
        url = os.environ.get(variable)
        if url:
            if not reachable(url):
                raise RuntimeError(f"{variable}={url} does not answer")
            return url
        if reachable(default):
            return default
        own = server().start()
        self.own.append(own)
        return own.url

    def stop(self) -> None:
        for server in reversed(self.own):
            server.cleanup()
        self.own.clear()


SHARED = SharedServers()


def shared_redis_url() -> str:
    SHARED.ensure_started()
    return os.environ[REDIS_ENV]


def shared_database_url() -> str:
    SHARED.ensure_started()
    return os.environ[DATABASE_ENV]
