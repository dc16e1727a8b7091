"""GET /v1/transactions/{transaction_id} and GET /v1/transactions: the decision history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from app.bodies import json_response
from app.deps import DatabaseDep, ReadKey
from app.errors import NotFound
from app.openapi import documented_errors, keyed
from app.routes.paging import Limit, PageCursor, bad_cursor
from app.schemas.fields import Identifier, Rfc3339, TransactionId
from app.schemas.history import Tier, TransactionDetail, TransactionPage
from persistence.history import BadCursor, ListFilter, decode_cursor, get_decision, list_decisions

router = APIRouter(prefix="/v1", tags=["history"], dependencies=[ReadKey])
ERRORS = keyed("read") | {503: "PostgreSQL unreachable"}


@router.get(
    "/transactions/{transaction_id}",
    response_model=TransactionDetail,
    summary="One stored decision, with its request, response and labels",
    responses=documented_errors(
        ERRORS | {404: "not in the history (yet)", 422: "not a transaction id"}
    ),
)
async def get_transaction(transaction_id: TransactionId, db: DatabaseDep) -> Response:
    """Decisions reach the history through the audit log, usually within a second."""
    async with db.connection() as conn:
        found = await get_decision(conn, transaction_id)
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
    db: DatabaseDep,
    card_id: Annotated[Identifier | None, Query()] = None,
    risk_tier: Tier | None = None,
    since: Annotated[Rfc3339 | None, Query(description="scored at or after (RFC 3339)")] = None,
    until: Annotated[Rfc3339 | None, Query(description="scored before (RFC 3339)")] = None,
    limit: Limit = 50,
    cursor: PageCursor = None,
) -> Response:
    try:
        after = decode_cursor(cursor) if cursor else None
    except BadCursor as exc:
        raise bad_cursor(exc) from None
    where = ListFilter(card_id, risk_tier, since, until, after, limit)
    async with db.connection() as conn:
        items, next_cursor = await list_decisions(conn, where)
    return json_response({"items": items, "next_cursor": next_cursor})
