"""GET /v1/alerts: the alert outbox (raised by the consumer, delivered by its dispatcher)
with each delivery's status, newest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from app.bodies import json_response
from app.deps import DatabaseDep, ReadKey
from app.openapi import UNAVAILABLE, documented_errors, keyed
from app.routes.paging import Limit, PageCursor, bad_cursor
from app.schemas.alerts import AlertPage, AlertStatus
from app.schemas.fields import Identifier
from persistence.alert_records import AlertFilter, BadAlertCursor, decode_alert_cursor, list_alerts

router = APIRouter(prefix="/v1", tags=["alerts"])


@router.get(
    "/alerts",
    response_model=AlertPage,
    summary="Alerts and their deliveries, newest first, with keyset pagination",
    dependencies=[ReadKey],
    responses=documented_errors(keyed("read") | UNAVAILABLE | {422: "a bad filter or cursor"}),
)
async def list_recent_alerts(
    db: DatabaseDep,
    status: Annotated[AlertStatus | None, Query()] = None,
    sink: Annotated[
        Identifier | None, Query(description="webhook, slack, pagerduty, email")
    ] = None,
    limit: Limit = 50,
    cursor: PageCursor = None,
) -> Response:
    """One row per decision at an alert tier (FRAUD_ALERT_TIERS) and sink; `suppressed`
    rows were not sent (the card had an alert within FRAUD_ALERT_DEDUP_S)."""
    try:
        before = decode_alert_cursor(cursor) if cursor else None
    except BadAlertCursor as exc:
        raise bad_cursor(exc) from None
    async with db.connection() as conn:
        alerts, next_cursor = await list_alerts(conn, AlertFilter(status, sink, before, limit))
    return json_response({"alerts": alerts, "next_cursor": next_cursor})
