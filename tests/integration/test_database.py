"""The API's lazily made PostgreSQL pool against a real server: closing it while it is
being made, or cancelling its making (a stopping process's background step), leaves no
connection open."""

from __future__ import annotations

import asyncio
import gc
import warnings
from contextlib import suppress

from persistence.database import Database
from tests.pg import DATABASE_URL, query


def backends(schema: str) -> int:
    """Connections to the server other than this query's own."""
    rows = query(
        schema,
        "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'",
    )
    return int(rows[0][0])


def test_closing_while_the_pool_is_made_closes_it(schema: str) -> None:
    before = backends(schema)

    async def race() -> bool:
        database = Database(DATABASE_URL, schema)
        making = asyncio.create_task(database.pool())
        await asyncio.sleep(0)  # inside the creation, connecting
        await database.close()
        pool = await making
        return pool.is_closing()

    assert asyncio.run(race())
    assert backends(schema) == before


def test_a_cancelled_creation_leaves_no_connection_behind(schema: str) -> None:
    before = backends(schema)

    async def cancel_after(steps: int) -> None:
        database = Database(DATABASE_URL, schema)
        making = asyncio.create_task(database.pool())
        for _ in range(steps):
            await asyncio.sleep(0)
        making.cancel()
        with suppress(asyncio.CancelledError):
            await making
        await database.close()

    async def steps_to_make() -> int:
        database = Database(DATABASE_URL, schema)
        making = asyncio.create_task(database.pool())
        steps = 0
        while not making.done():
            await asyncio.sleep(0)
            steps += 1
        await database.close()
        return steps

    total = asyncio.run(steps_to_make())  # the schema migrated: a second creation is shorter
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        # Cancelled at 60 points spread over connecting, checking the schema and filling
        # the pool (a step is one turn of the event loop, which spins while it waits).
        for steps in range(0, total + 1, max(1, total // 60)):
            asyncio.run(cancel_after(steps))
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []
    assert backends(schema) == before
