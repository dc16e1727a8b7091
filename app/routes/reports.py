"""GET /v1/reports/performance: the performance report's figures (`fraud report`'s
report.json) for the console, computed from the stored decisions and labels."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

import asyncpg
from fastapi import APIRouter, Query
from fastapi.responses import Response

from app.bodies import json_response
from app.deps import DatabaseDep, ReadCaller, SettingsDep
from app.errors import TimedOut, TooManyRequests, ValidationFailed
from app.openapi import UNAVAILABLE, documented_errors, keyed
from app.schemas.fields import Rfc3339
from app.schemas.reports import PerformanceReportOut
from monitoring.figures import performance, period_refusal
from monitoring.stored import ReportTooLarge, read_period

router = APIRouter(prefix="/v1", tags=["reports"])

# Reports being computed in this process: one at a time. A report reads up to
# FRAUD_REPORT_MAX_ROWS rows and computes on them in a thread that shares the interpreter
# with scoring; a key with the `read` scope asking for many at once would slow every answer.
MAX_COMPUTING = 1
computing = 0


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
            "negative cost, or a period of more than FRAUD_REPORT_MAX_ROWS decisions",
            429: "another report is being computed by this process (Retry-After)",
            504: "reading the period took longer than FRAUD_REPORT_TIMEOUT_S",
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
    scores (and is not an admin) gets the figures of the decisions it scored only. One
    report at a time per API process (429 meanwhile); the read is bounded by
    FRAUD_REPORT_TIMEOUT_S (504)."""
    global computing
    if (refusal := period_refusal(since, until)) is not None:
        raise _invalid("until", refusal)
    if computing >= MAX_COMPUTING:
        raise TooManyRequests(
            "another performance report is being computed by this process; try again shortly",
            max(1, round(settings.report_timeout_s / 10)),
        )
    computing += 1
    try:
        return await _report(caller, db, settings, since, until, cost_per_review)
    finally:
        computing -= 1


async def _report(
    caller: ReadCaller,
    db: DatabaseDep,
    settings: SettingsDep,
    since: datetime,
    until: datetime,
    cost_per_review: float | None,
) -> Response:
    # Inside the connection's block: leaving it, a cancelled statement would read as a lost
    # server (503), not as the bound it is.
    async with db.connection() as conn:
        try:
            frame = await read_period(
                conn,
                since,
                until,
                settings.report_max_rows,
                caller.sees.own,
                statement_timeout_ms=round(settings.report_timeout_s * 1000),
            )
        except ReportTooLarge as exc:
            raise _invalid("since", str(exc)) from None
        except asyncpg.QueryCanceledError:
            raise TimedOut(
                f"reading the period took longer than {settings.report_timeout_s:g} s "
                "(FRAUD_REPORT_TIMEOUT_S): choose a shorter period"
            ) from None
    cost = settings.review_cost if cost_per_review is None else cost_per_review
    report = await asyncio.to_thread(
        performance, frame, since, until, datetime.now(UTC), settings.label_delay_days, cost
    )
    return json_response(report.as_json())
