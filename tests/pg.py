"""The suite's shared PostgreSQL (tests.servers) for integration tests: each test works in a
schema of its own and drops it afterwards."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from persistence.consumer import AuditConsumer, ConsumerConfig
from tests.servers import shared_database_url

DATABASE_URL = shared_database_url()


def drop_schema(name: str) -> None:
    async def drop() -> None:
        conn = await asyncpg.connect(DATABASE_URL)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        finally:
            await conn.close()  # left open, its socket would warn in whichever test GCs it

    asyncio.run(drop())


def query(schema: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    """Rows of one query in a test's schema (from synchronous test code)."""

    async def run() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(DATABASE_URL, server_settings={"search_path": schema})
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    return asyncio.run(run())


async def consume_until(
    config: ConsumerConfig, rows: int, dead: int, timeout_s: float = 30
) -> tuple[int, int]:
    consumer = AuditConsumer(config)
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    conn = None
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            await asyncio.sleep(0.3)
            if conn is None:
                try:
                    conn = await asyncpg.connect(
                        DATABASE_URL, server_settings={"search_path": config.schema}
                    )
                    await conn.fetchval("SELECT count(*) FROM decisions")
                except (asyncpg.UndefinedTableError, OSError):
                    conn = None
                    continue
            counts = (
                await conn.fetchval("SELECT count(*) FROM decisions"),
                await conn.fetchval("SELECT count(*) FROM dead_letters"),
            )
            if counts == (rows, dead):
                break
        await asyncio.sleep(1)  # anything still arriving would show as an extra row
        return (
            (
                await conn.fetchval("SELECT count(*) FROM decisions"),
                await conn.fetchval("SELECT count(*) FROM dead_letters"),
            )
            if conn
            else (0, 0)
        )
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        if conn is not None:
            await conn.close()
