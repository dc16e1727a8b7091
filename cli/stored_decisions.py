"""A command's connection to the stored decisions (`fraud export`, `fraud report`), with
PostgreSQL's failures turned into the command's own error, naming what to do."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from app.settings import Settings
from persistence.database import UNAVAILABLE


@asynccontextmanager
async def decisions_connection(
    settings: Settings, error: type[Exception]
) -> AsyncIterator[asyncpg.Connection]:
    """A connection to FRAUD_DATABASE_SCHEMA, closed at exit; PostgreSQL unreachable, a
    schema without the decisions' tables or a failed read raise `error` with the reason."""
    try:
        conn = await asyncpg.connect(
            settings.database_url,
            timeout=5,
            server_settings={"search_path": settings.database_schema},
        )
    except (*UNAVAILABLE, asyncpg.PostgresError) as exc:
        raise error(f"PostgreSQL (FRAUD_DATABASE_URL) unreachable: {exc}") from exc
    try:
        yield conn
    except asyncpg.UndefinedTableError as exc:
        raise error(
            f"schema {settings.database_schema!r} has no decisions ({exc}); "
            "`fraud consume` creates the tables (FRAUD_DATABASE_SCHEMA names the schema)"
        ) from exc
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise error(f"reading the decisions failed: {exc}") from exc
    finally:
        await conn.close()
