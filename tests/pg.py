"""The suite's shared PostgreSQL (tests.servers) for integration tests: each test works in a
schema of its own and drops it afterwards."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

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
    """Runs a consumer until its group has committed the whole topic and the decisions and
    dead_letters tables hold `rows` and `dead` rows (or `timeout_s` passes), stops it, then
    counts both: nothing is left to arrive, so a message written twice shows."""
    consumer = AuditConsumer(config)
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    offsets = AIOKafkaConsumer(
        bootstrap_servers=config.bootstrap_servers,
        group_id=config.group_id,  # reads the group's commits; never joins it
        enable_auto_commit=False,
    )
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


async def committed_to_end(offsets: AIOKafkaConsumer, topic: str) -> bool:
    """The group's committed offset is the end of every partition of `topic`: the consumer
    commits after its database transaction, so every message is written."""
    await offsets.topics()  # fresh metadata: the topic may be new
    partitions = [TopicPartition(topic, p) for p in offsets.partitions_for_topic(topic) or ()]
    if not partitions:
        return False
    ends = await offsets.end_offsets(partitions)
    for tp in partitions:
        if (await offsets.committed(tp) or 0) < ends[tp]:
            return False
    return True


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
