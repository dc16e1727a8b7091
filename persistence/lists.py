"""List entries in PostgreSQL (table list_entries, migration 005): the record behind
/v1/lists. Every writer here runs inside the caller's transaction and publishes nothing:
the caller writes Redis (controls.list_store.RedisListStore) before it commits, so a Redis
failure rolls the change back.

Pages are newest first by id; the cursor is the last id returned.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

import asyncpg
import orjson

from controls.lists import (
    CHECKSUM_MODULUS,
    BadListValue,
    ListEntry,
    entry_hash,
    expires_ms,
    list_value,
)
from vocabulary import ENTITIES, LIST_ACTIONS

__all__ = [
    "BadListCursor",
    "InvalidListEntry",
    "ListEntry",
    "ListEntryExists",
    "ListPage",
    "NewListEntry",
    "add_list_entry",
    "database_checksum",
    "decode_list_cursor",
    "delete_list_entry",
    "encode_list_cursor",
    "get_list_entry",
    "list_entries",
    "live_entries",
]

COLUMNS = (
    "id, entity, value, action, reason, expires_at, created_at, created_by, deleted_at, deleted_by"
)
# Two-key advisory locks: the class of list locks, then a hash of entity, value and action.
LIST_LOCK_CLASS = 0x6C697374  # "list"


@dataclass(frozen=True, slots=True)
class NewListEntry:
    entity: str
    value: str
    action: str
    reason: str
    expires_at: datetime | None = None


class InvalidListEntry(ValueError):
    """An entry that cannot be listed; `field` names what is wrong with it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ListEntryExists(ValueError):
    """The same entity, value and action is listed already (and not expired)."""

    def __init__(self, existing: ListEntry) -> None:
        super().__init__(
            f"{existing.entity} {existing.value!r} is already on the {existing.action} list "
            f"(entry {existing.id}); delete it first to change it"
        )
        self.existing = existing


def _entry(row: asyncpg.Record) -> ListEntry:
    return ListEntry(**{key: row[key] for key in COLUMNS.split(", ")})


async def add_list_entry(
    conn: asyncpg.Connection, entry: NewListEntry, key_id: str | None
) -> ListEntry:
    """Record a new entry (call inside a transaction; publish it to Redis before the commit).
    InvalidListEntry for an unknown entity or action, a value its entity cannot hold, an
    expiry not in the future (by the database's clock); ListEntryExists if the same entity,
    value and action is listed and unexpired. An expired one stays as it is (its record)."""
    if entry.entity not in ENTITIES:
        raise InvalidListEntry("entity", f"must be one of {', '.join(ENTITIES)}")
    if entry.action not in LIST_ACTIONS:
        raise InvalidListEntry("action", f"must be one of {', '.join(LIST_ACTIONS)}")
    try:
        listed = list_value(entry.entity, entry.value)
    except BadListValue as exc:
        raise InvalidListEntry("value", str(exc)) from None
    if entry.expires_at is not None and await conn.fetchval(
        "SELECT $1::timestamptz <= now()", entry.expires_at
    ):
        raise InvalidListEntry("expires_at", "must be in the future")
    # Two transactions adding the same entry: the second waits here, then sees the first.
    await conn.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext($2))",
        LIST_LOCK_CLASS,
        f"{entry.entity}\n{listed.text}\n{entry.action}",
    )
    existing = await conn.fetchrow(
        f"SELECT {COLUMNS} FROM list_entries WHERE entity = $1 AND value = $2 AND action = $3 "
        "AND deleted_at IS NULL AND (expires_at IS NULL OR expires_at > now()) LIMIT 1",
        entry.entity,
        listed.text,
        entry.action,
    )
    if existing is not None:
        raise ListEntryExists(_entry(existing))
    # The id first: it is part of the entry's checksum share, stored with the row.
    entry_id = await conn.fetchval("SELECT nextval(pg_get_serial_sequence('list_entries', 'id'))")
    checksum = entry_hash(entry_id, listed.field, entry.action, expires_ms(entry.expires_at))
    row = await conn.fetchrow(
        "INSERT INTO list_entries (id, entity, value, action, reason, expires_at, created_by, "
        f"checksum) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {COLUMNS}",
        entry_id,
        entry.entity,
        listed.text,
        entry.action,
        entry.reason,
        entry.expires_at,
        key_id,
        checksum,
    )
    return _entry(row)


async def delete_list_entry(
    conn: asyncpg.Connection, entry_id: int, key_id: str | None
) -> ListEntry | None:
    """Mark an entry deleted, by whom and when (call inside a transaction; take it out of
    Redis before the commit); None if there is no such entry, or it is deleted already."""
    row = await conn.fetchrow(
        "UPDATE list_entries SET deleted_at = now(), deleted_by = $2 "
        f"WHERE id = $1 AND deleted_at IS NULL RETURNING {COLUMNS}",
        entry_id,
        key_id,
    )
    return None if row is None else _entry(row)


async def get_list_entry(conn: asyncpg.Connection, entry_id: int) -> ListEntry | None:
    """One entry, deleted or not."""
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM list_entries WHERE id = $1", entry_id)
    return None if row is None else _entry(row)


class BadListCursor(ValueError):
    """A cursor this API did not issue."""


def encode_list_cursor(entry_id: int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(["list", entry_id])).decode().rstrip("=")


def decode_list_cursor(cursor: str) -> int:
    try:
        tag, entry_id = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, orjson.JSONDecodeError, TypeError, ValueError) as exc:
        raise BadListCursor("cursor is not one returned by this API") from exc
    if tag != "list" or type(entry_id) is not int or not 0 < entry_id < 2**63:
        raise BadListCursor("cursor is not one returned by this API")
    return entry_id


@dataclass(frozen=True, slots=True)
class ListPage:
    entity: str | None = None
    action: str | None = None
    before: int | None = None  # the id of the previous page's last entry
    limit: int = 50


async def list_entries(
    conn: asyncpg.Connection, page: ListPage
) -> tuple[list[ListEntry], str | None]:
    """Not-deleted entries (expired ones included: their record until deleted), newest
    first; and the cursor of the next page (None on the last)."""
    clauses = ["deleted_at IS NULL"]
    args: list[object] = []
    for column, value in (("entity", page.entity), ("action", page.action), ("id", page.before)):
        if value is not None:
            args.append(value)
            clauses.append(f"{column} {'<' if column == 'id' else '='} ${len(args)}")
    args.append(page.limit + 1)  # one more tells whether there is a next page
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM list_entries WHERE {' AND '.join(clauses)} "
        f"ORDER BY id DESC LIMIT ${len(args)}",
        *args,
    )
    entries = [_entry(r) for r in rows[: page.limit]]
    more = len(rows) > page.limit
    return entries, encode_list_cursor(entries[-1].id) if more else None


async def database_checksum(conn: asyncpg.Connection) -> int:
    """The sum, modulo CHECKSUM_MODULUS, of every not-deleted entry's checksum: what
    `{prefix}:{list}:sum` holds when Redis has every change."""
    total = await conn.fetchval(
        "SELECT coalesce(sum(checksum), 0) % $1 FROM list_entries WHERE deleted_at IS NULL",
        CHECKSUM_MODULUS,
    )
    return int(total)


async def live_entries(conn: asyncpg.Connection) -> tuple[list[ListEntry], int]:
    """What Redis should hold, read in one snapshot: the not-deleted, unexpired entries and
    the checksum of every not-deleted one (run it in a REPEATABLE READ transaction)."""
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM list_entries WHERE deleted_at IS NULL "
        "AND (expires_at IS NULL OR expires_at > now()) ORDER BY id"
    )
    return [_entry(r) for r in rows], await database_checksum(conn)
