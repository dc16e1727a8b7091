"""`fraud report` wired from settings: a period's stored decisions and labels from
PostgreSQL into the performance report's directory (monitoring/)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from app.settings import Settings
from monitoring.figures import PerformanceReport, performance
from monitoring.files import write_report
from monitoring.stored import read_period
from persistence.database import UNAVAILABLE


class ReportError(RuntimeError):
    """The report could not be made; nothing was written."""


async def make_report(
    settings: Settings, since: datetime, until: datetime, out: Path, cost_per_review: float
) -> tuple[PerformanceReport, list[Path]]:
    """The report of the decisions with `since <= event time < until` as known now, written
    to `out`, with the files' paths."""
    try:
        conn = await asyncpg.connect(
            settings.database_url,
            timeout=5,
            server_settings={"search_path": settings.database_schema},
        )
    except (*UNAVAILABLE, asyncpg.PostgresError) as exc:
        raise ReportError(f"PostgreSQL (FRAUD_DATABASE_URL) unreachable: {exc}") from exc
    try:
        frame = await read_period(conn, since, until)
    except asyncpg.UndefinedTableError as exc:
        raise ReportError(
            f"schema {settings.database_schema!r} has no decisions ({exc}); "
            "`fraud consume` creates the tables (FRAUD_DATABASE_SCHEMA names the schema)"
        ) from exc
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise ReportError(f"reading the decisions failed: {exc}") from exc
    finally:
        await conn.close()
    report = performance(
        frame, since, until, datetime.now(UTC), settings.label_delay_days, cost_per_review
    )
    try:
        return report, write_report(report, out)
    except OSError as exc:
        raise ReportError(f"cannot write {out}: {exc}") from exc
