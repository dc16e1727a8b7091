"""Versioned SQL migrations (persistence/migrations/NNN_name.sql), applied in order, once each.

`fraud db upgrade` runs them; so does the consumer at start. An advisory lock keeps
two processes from migrating at the same time.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg

MIGRATIONS = Path(__file__).with_name("migrations")
LOCK_ID = 0x66726175  # "frau"


def migration_files() -> list[tuple[int, Path]]:
    return sorted((int(p.name.split("_", 1)[0]), p) for p in MIGRATIONS.glob("*.sql"))


async def upgrade(conn: asyncpg.Connection, schema: str) -> list[int]:
    """Apply the migrations this database does not have yet; returns the versions applied."""
    applied: list[int] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK_ID)
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        await conn.execute(f'SET LOCAL search_path TO "{schema}"')
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
            "applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        for version, path in migration_files():
            if version not in done:
                await conn.execute(path.read_text())
                await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)
                applied.append(version)
    return applied
