"""The suite's shared PostgreSQL (tests.servers) for integration tests: each test works in a
schema of its own and drops it afterwards."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from persistence.consumer import AuditConsumer, ConsumerConfig
from tests.offsets import committed_to_end, group_offsets
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
    """Runs a consumer until its group has committed the whole topic and the decisions and
    dead_letters tables hold `rows` and `dead` rows (or `timeout_s` passes), stops it, then
    counts both: nothing is left to arrive, so a message written twice shows."""
    consumer = AuditConsumer(config)
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    offsets = group_offsets(config.bootstrap_servers, config.group_id)
    await offsets.start()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            await asyncio.sleep(0.1)  # a poll step
            if await committed_to_end(offsets, config.topic) and (
                await stored_counts(config.schema) == (rows, dead)
            ):
                break
    finally:
        await offsets.stop()
        stop.set()
        await asyncio.wait_for(task, 30)
    return await stored_counts(config.schema)


async def stored_counts(schema: str) -> tuple[int, int]:
    """Rows in decisions and dead_letters; (0, 0) before the consumer has migrated."""
    try:
        conn = await asyncpg.connect(DATABASE_URL, server_settings={"search_path": schema})
    except OSError:
        return 0, 0
    try:
        return (
            await conn.fetchval("SELECT count(*) FROM decisions"),
            await conn.fetchval("SELECT count(*) FROM dead_letters"),
        )
    except asyncpg.UndefinedTableError:
        return 0, 0
    finally:
        await conn.close()
