"""`fraud report` wired from settings: a period's stored decisions and labels from
PostgreSQL into the performance report's directory (monitoring/)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from app.settings import Settings
from cli.stored_decisions import decisions_connection
from monitoring.figures import PerformanceReport, performance
from monitoring.files import write_report
from monitoring.stored import read_period


class ReportError(RuntimeError):
    """The report could not be made; nothing was written."""


async def make_report(
    settings: Settings, since: datetime, until: datetime, out: Path, cost_per_review: float
) -> tuple[PerformanceReport, list[Path]]:
    """The report of the decisions with `since <= event time < until` as known now, written
    to `out`, with the files' paths."""
    async with decisions_connection(settings, ReportError) as conn:
        frame = await read_period(conn, since, until)
    report = performance(
        frame, since, until, datetime.now(UTC), settings.label_delay_days, cost_per_review
    )
    try:
        return report, write_report(report, out)
    except OSError as exc:
        raise ReportError(f"cannot write {out}: {exc}") from exc
