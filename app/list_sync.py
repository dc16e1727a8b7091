"""Each API process keeps Redis's lists in step with PostgreSQL's record.

Every FRAUD_LIST_SYNC_S the process compares the checksum in Redis with PostgreSQL's. A
missing one (Redis restarted or was flushed) is rebuilt at once; a different one only when
it differed at the previous check too, since a writer publishes to Redis just before it
commits (a check in between sees the change in Redis only). Rebuilds are atomic and
watched (controls.list_store), so concurrent processes cannot interleave them, and one
yields to a change published while it read. Every PURGE_EVERY_S the expired entries are
taken out of Redis (they match nothing already).
"""

from __future__ import annotations

import logging
import time

from app.periodic import Periodic
from controls.list_store import RedisListStore
from features.redis_store import STORE_ERRORS
from persistence.database import Database, DatabaseUnavailable
from persistence.lists import database_checksum, live_entries

log = logging.getLogger(__name__)
PURGE_EVERY_S = 30.0


class ListSync(Periodic):
    name = "list sync"
    EXPECTED = (*STORE_ERRORS, DatabaseUnavailable)

    def __init__(self, store: RedisListStore, database: Database, interval_s: float) -> None:
        super().__init__(interval_s)
        self.store = store
        self.database = database
        self.rebuilds = 0
        self._differed = False
        self._purged_at = 0.0

    async def step(self) -> None:
        await self.check()
        if time.monotonic() - self._purged_at >= PURGE_EVERY_S:
            await self.store.purge_expired()
            self._purged_at = time.monotonic()

    async def check(self) -> bool:
        """Compare, and rebuild if needed; True if it rebuilt."""
        in_redis = await self.store.checksum()
        async with self.database.connection() as conn:
            in_database = await database_checksum(conn)
        if in_redis == in_database:
            self._differed = False
            return False
        # Without a checksum but with entries, a writer published since Redis lost its
        # lists and may not have committed yet: like a mismatch, rebuild only if it lasts.
        unsettled = in_redis is not None or await self.store.has_entries()
        if unsettled and not self._differed:
            self._differed = True
            return False
        return await self.rebuild(in_redis)

    async def rebuild(self, expected: int | None) -> bool:
        async with (
            self.database.connection() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            entries, checksum = await live_entries(conn)
        done = await self.store.replace(expected, entries, checksum)
        if done:
            self._differed = False
            self.rebuilds += 1
            log.warning(
                "lists in Redis rebuilt from PostgreSQL: %d live entries (Redis had %s)",
                len(entries),
                "none" if expected is None else "a different checksum",
            )
        return done
