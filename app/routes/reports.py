"""GET /v1/reports/performance: the performance report's figures (`fraud report`'s
report.json) for the console, computed from the stored decisions and labels."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from app.bodies import json_response
from app.deps import DatabaseDep, ReadCaller, SettingsDep
from app.errors import ValidationFailed
from app.openapi import UNAVAILABLE, documented_errors, keyed
from app.schemas.fields import Rfc3339
from app.schemas.reports import PerformanceReportOut
from monitoring.figures import performance, period_refusal
from monitoring.stored import ReportTooLarge, read_period

router = APIRouter(prefix="/v1", tags=["reports"])


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed([{"field": field, "message": message, "type": "report"}])


@router.get(
    "/reports/performance",
    response_model=PerformanceReportOut,
    summary="How the engine performed on a period's stored decisions, as labels say so far",
    responses=documented_errors(
        keyed("read")
        | UNAVAILABLE
        | {
            422: "a bad time, `until` not after `since` or more than two years after it, a "
            "negative cost, or a period of more than FRAUD_REPORT_MAX_ROWS decisions"
        }
    ),
)
async def performance_report(
    caller: ReadCaller,
    db: DatabaseDep,
    settings: SettingsDep,
    since: Annotated[Rfc3339, Query(description="Event time at or after (RFC 3339)")],
    until: Annotated[Rfc3339, Query(description="Event time before (RFC 3339)")],
    cost_per_review: Annotated[
        float | None, Query(ge=0, description="Cost of one review; default FRAUD_REVIEW_COST")
    ] = None,
) -> Response:
    """Per ISO week and for the period: average precision, precision, recall and
    false-positive rate of the flagged decisions (review, decline), and per currency the
    fraud amount declined, sent to review and approved, the legitimate amount declined and
    the review cost. Weeks whose labels are younger than FRAUD_LABEL_DELAY_DAYS are
    `mature: false` and kept out of `period`. Reads at most FRAUD_REPORT_MAX_ROWS decisions
    from one snapshot; the arithmetic runs in a thread, off the event loop. A key that
    scores (and is not an admin) gets the figures of the decisions it scored only."""
    if (refusal := period_refusal(since, until)) is not None:
        raise _invalid("until", refusal)
    try:
        async with db.connection() as conn:
            frame = await read_period(conn, since, until, settings.report_max_rows, caller.sees.own)
    except ReportTooLarge as exc:
        raise _invalid("since", str(exc)) from None
    cost = settings.review_cost if cost_per_review is None else cost_per_review
    report = await asyncio.to_thread(
        performance, frame, since, until, datetime.now(UTC), settings.label_delay_days, cost
    )
    return json_response(report.as_json())
