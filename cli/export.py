"""`fraud export` wired from settings: a period's stored decisions and labels from
PostgreSQL into a training file."""

from __future__ import annotations

from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path

import asyncpg

from app.settings import Settings
from features.dataset import TransactionWriter
from persistence.database import UNAVAILABLE
from persistence.export import SCHEMA, export_batches


class ExportError(RuntimeError):
    """The export could not be made; no file was written."""


@dataclass(slots=True)
class ExportCounts:
    rows: int = 0
    fraud: int = 0
    legitimate: int = 0  # labelled so; the unlabelled rows are exported as legitimate too

    @property
    def labelled(self) -> int:
        return self.fraud + self.legitimate

    @property
    def unlabelled(self) -> int:
        return self.rows - self.labelled


def parse_moment(text: str) -> datetime:
    """RFC 3339 with an offset, or a date (its midnight, UTC)."""
    try:
        return datetime.combine(date.fromisoformat(text), time(), UTC)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is neither an RFC 3339 time nor a date (YYYY-MM-DD)") from None
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset (write it as {text}Z or {text}+01:00)")
    return moment


async def export_file(
    settings: Settings, since: datetime, until: datetime, out: Path, batch_rows: int
) -> ExportCounts:
    """Write the transactions with `since <= event time < until` to `out` (CSV or Parquet by
    extension), which appears only once complete."""
    try:
        conn = await asyncpg.connect(
            settings.database_url,
            timeout=5,
            server_settings={"search_path": settings.database_schema},
        )
    except (*UNAVAILABLE, asyncpg.PostgresError) as exc:
        raise ExportError(f"PostgreSQL (FRAUD_DATABASE_URL) unreachable: {exc}") from exc
    counts = ExportCounts()
    try:
        with TransactionWriter(out, SCHEMA) as writer:
            async with aclosing(export_batches(conn, since, until, batch_rows)) as batches:
                async for batch in batches:
                    writer.write(batch.table)
                    counts.rows += batch.table.num_rows
                    counts.fraud += batch.fraud
                    counts.legitimate += batch.legitimate
    except asyncpg.UndefinedTableError as exc:
        raise ExportError(
            f"schema {settings.database_schema!r} has no decisions ({exc}); "
            "`fraud consume` creates the tables (FRAUD_DATABASE_SCHEMA names the schema)"
        ) from exc
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise ExportError(f"reading the decisions failed: {exc}") from exc
    except OSError as exc:  # asyncpg reports a lost server as its own errors, above
        raise ExportError(f"cannot write {out}: {exc}") from exc
    finally:
        await conn.close()
    return counts
