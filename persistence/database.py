"""The API's PostgreSQL pool: made on first use, so scoring never waits for the database.

The pool is created (and the schema migrated) the first time a history or feedback
request needs it; if PostgreSQL is down, that request gets 503 and the next one tries
again. Closing waits for a creation in progress, so that pool is closed too.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from persistence.migrations import upgrade

# Worth waiting for: the server is unreachable, starting, shutting down or out of resources.
UNAVAILABLE = (
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.InterfaceError,
    OSError,
    TimeoutError,
)


class DatabaseUnavailable(RuntimeError):
    """PostgreSQL could not be reached."""


class Database:
    def __init__(self, url: str, schema: str, pool_size: int = 8, timeout_s: float = 5.0) -> None:
        self.url = url
        self.schema = schema
        self.pool_size = pool_size
        self.timeout_s = timeout_s
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()

    async def pool(self) -> asyncpg.Pool:
        if self._pool is not None:
            return self._pool
        async with self._lock:
            if self._pool is None:
                try:
                    conn = await asyncpg.connect(self.url, timeout=self.timeout_s)
                    try:
                        await upgrade(conn, self.schema)
                    finally:
                        await conn.close()
                    # A creation failed or cancelled half-way closes what it opened
                    # (asyncpg's own guarantee, tested in tests/integration/test_database.py).
                    self._pool = await asyncpg.create_pool(
                        self.url,
                        min_size=1,
                        max_size=self.pool_size,
                        timeout=self.timeout_s,
                        command_timeout=self.timeout_s,
                        server_settings={"search_path": self.schema},
                    )
                except (*UNAVAILABLE, asyncpg.PostgresError) as exc:
                    raise DatabaseUnavailable(f"PostgreSQL unavailable: {exc!r}") from exc
        return self._pool

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection; a lost server surfaces as DatabaseUnavailable."""
        pool = await self.pool()
        try:
            async with pool.acquire() as conn:
                yield conn
        except UNAVAILABLE as exc:
            raise DatabaseUnavailable(f"PostgreSQL unavailable: {exc!r}") from exc

    async def close(self) -> None:
        # Under the lock: a pool being made right now is closed too, not left behind.
        async with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()
