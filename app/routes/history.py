"""GET /v1/transactions/{transaction_id} and GET /v1/transactions: the decision history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from app.bodies import json_response
from app.deps import ApiKey, DatabaseDep
from app.errors import NotFound, ValidationFailed
from app.schemas.history import Tier, TransactionDetail, TransactionId, TransactionPage
from app.schemas.score import utc_range_error
from persistence.history import BadCursor, ListFilter, decode_cursor, get_decision, list_decisions

router = APIRouter(prefix="/v1", tags=["history"], dependencies=[ApiKey])
ERRORS: dict[int | str, dict[str, str]] = {
    401: {"description": "missing or unknown API key"},
    503: {"description": "PostgreSQL unreachable"},
}


@router.get(
    "/transactions/{transaction_id}",
    response_model=TransactionDetail,
    summary="One stored decision, with its request, response and labels",
    responses={**ERRORS, 404: {"description": "not in the history (yet)"}},
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
    responses={**ERRORS, 422: {"description": "a bad filter or cursor"}},
)
async def list_transactions(
    db: DatabaseDep,
    card_id: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    risk_tier: Tier | None = None,
    since: Annotated[datetime | None, Query(description="scored at or after (RFC 3339)")] = None,
    until: Annotated[datetime | None, Query(description="scored before (RFC 3339)")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
) -> Response:
    for name, moment in (("since", since), ("until", until)):
        if moment is not None and moment.tzinfo is None:
            raise ValidationFailed(
                [{"field": name, "message": "needs a UTC offset", "type": "timezone"}]
            )
        if moment is not None and (error := utc_range_error(moment)) is not None:
            raise ValidationFailed([{"field": name, "message": error, "type": "datetime_range"}])
    try:
        after = decode_cursor(cursor) if cursor else None
    except BadCursor as exc:
        raise ValidationFailed(
            [{"field": "cursor", "message": str(exc), "type": "cursor"}]
        ) from None
    where = ListFilter(card_id, risk_tier, since, until, after, limit)
    async with db.connection() as conn:
        items, next_cursor = await list_decisions(conn, where)
    return json_response({"items": items, "next_cursor": next_cursor})
