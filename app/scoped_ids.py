"""Which stored transaction a caller means by a transaction id: ids are unique within the
scope of the key that scored them, so a caller names the scope or the one scope it sees that
holds the id is taken (persistence.history.Visibility); several are 409 naming them."""

from __future__ import annotations

import asyncpg

from app.auth import Caller
from app.errors import Ambiguous
from persistence.history import AmbiguousTransaction, pick_scope


async def scope_of(
    conn: asyncpg.Connection, transaction_id: str, asked: str | None, caller: Caller
) -> str | None:
    """The scope of the stored transaction the caller means; None when no scope it sees
    holds the id; Ambiguous (409) when several do and none was named."""
    try:
        return await pick_scope(conn, transaction_id, asked, caller.sees)
    except AmbiguousTransaction as exc:
        raise Ambiguous(str(exc)) from None
