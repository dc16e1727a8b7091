"""GET /v1/transactions/{transaction_id} and GET /v1/transactions: the decision history.

A transaction id is unique within its scope (the id of the API key that scored it): a
look-up names the scope, or finds the one scope that holds the id among those the caller
sees (auth.Caller.sees); an id held by several is 409 naming them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from app.bodies import json_response
from app.deps import DatabaseDep, ReadCaller
from app.errors import NotFound
from app.openapi import documented_errors, keyed
from app.routes.paging import Limit, PageCursor, bad_cursor
from app.schemas.fields import (
    SCOPE_DESCRIPTION,
    Identifier,
    Rfc3339,
    TransactionId,
    TransactionScope,
)
from app.schemas.history import TransactionDetail, TransactionPage
from app.scoped_ids import scope_of
from persistence.history import BadCursor, ListFilter, decode_cursor, get_decision, list_decisions
from vocabulary import Tier

router = APIRouter(prefix="/v1", tags=["history"])
ERRORS = keyed("read") | {503: "PostgreSQL unreachable"}
ScopeQuery = Annotated[TransactionScope | None, Query(description=SCOPE_DESCRIPTION)]


@router.get(
    "/transactions/{transaction_id}",
    response_model=TransactionDetail,
    summary="One stored decision, with its request, response and labels",
    responses=documented_errors(
        ERRORS
        | {
            404: "not in the history (yet), or not in a scope this key sees",
            409: "the id was scored by several API keys and no `scope` was named: the "
            "detail names them",
            422: "not a transaction id or scope",
        }
    ),
)
async def get_transaction(
    transaction_id: TransactionId, caller: ReadCaller, db: DatabaseDep, scope: ScopeQuery = None
) -> Response:
    """Decisions reach the history through the audit log, usually within a second."""
    async with db.connection() as conn:
        found = None
        picked = await scope_of(conn, transaction_id, scope, caller)
        if picked is not None:
            found = await get_decision(conn, picked, transaction_id)
    if found is None:
        raise NotFound(f"transaction {transaction_id!r} is not in the history")
    return json_response(found)


@router.get(
    "/transactions",
    response_model=TransactionPage,
    summary="Stored decisions, newest first, filtered, with keyset pagination",
    responses=documented_errors(ERRORS | {422: "a bad filter or cursor"}),
)
async def list_transactions(
    caller: ReadCaller,
    db: DatabaseDep,
    card_id: Annotated[Identifier | None, Query()] = None,
    risk_tier: Tier | None = None,
    since: Annotated[Rfc3339 | None, Query(description="scored at or after (RFC 3339)")] = None,
    until: Annotated[Rfc3339 | None, Query(description="scored before (RFC 3339)")] = None,
    limit: Limit = 50,
    cursor: PageCursor = None,
    scope: ScopeQuery = None,
    transaction_id: Annotated[
        TransactionId | None,
        Query(description="this id, in every scope the key sees (each item names its scope)"),
    ] = None,
) -> Response:
    """A key that scores (and is not an admin) lists only its own scope's decisions."""
    try:
        after = decode_cursor(cursor) if cursor else None
    except BadCursor as exc:
        raise bad_cursor(exc) from None
    own = caller.sees.own
    if own is not None and scope not in (None, own):
        return json_response({"items": [], "next_cursor": None})
    where = ListFilter(card_id, risk_tier, since, until, after, limit, own or scope, transaction_id)
    async with db.connection() as conn:
        items, next_cursor = await list_decisions(conn, where)
    return json_response({"items": items, "next_cursor": next_cursor})
