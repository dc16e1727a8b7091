"""`fraud report` wired from settings: a period's stored decisions and labels from
PostgreSQL into the performance report's directory (monitoring/), and with `--compare` the
champion and the challenger side by side (monitoring.compare)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from app.settings import Settings
from cli.stored_decisions import decisions_connection
from monitoring.compare import Comparison, compare
from monitoring.figures import COLUMNS, PerformanceReport, performance
from monitoring.files import write_report
from monitoring.stored import read_period


class ReportError(RuntimeError):
    """The report could not be made; nothing was written."""


async def make_report(
    settings: Settings,
    since: datetime,
    until: datetime,
    out: Path,
    cost_per_review: float,
    with_challenger: bool = False,
) -> tuple[PerformanceReport, Comparison | None, list[Path]]:
    """The report of the decisions with `since <= event time < until` as known now, written
    to `out`, with the files' paths; `with_challenger`, the comparison of the champion and
    the challenger too (ReportError, nothing written, when no decision carried one)."""
    async with decisions_connection(settings, ReportError) as conn:
        frame = await read_period(conn, since, until, challenger=with_challenger)
    now = datetime.now(UTC)
    delay = settings.label_delay_days
    report = performance(frame[list(COLUMNS)], since, until, now, delay, cost_per_review)
    comparison = None
    if with_challenger:
        comparison = compare(frame, since, until, now, delay, cost_per_review)
        if comparison is None:
            raise ReportError(
                f"no decision from {since.isoformat()} to {until.isoformat()} carried a "
                f"challenger ({len(frame):,} decisions, none scored in shadow): nothing to "
                "compare; load one with FRAUD_CHALLENGER_MODEL_DIR, or choose a period "
                "when one was loaded"
            )
    try:
        return report, comparison, write_report(report, out, comparison)
    except OSError as exc:
        raise ReportError(f"cannot write {out}: {exc}") from exc
