"""`fraud export` wired from settings: a period's stored decisions and labels from
PostgreSQL into a training file."""

from __future__ import annotations

from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path

from app.settings import Settings
from cli.stored_decisions import decisions_connection
from features.dataset import TransactionWriter
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
    counts = ExportCounts()
    try:
        async with decisions_connection(settings, ExportError) as conn:
            with TransactionWriter(out, SCHEMA) as writer:
                async with aclosing(export_batches(conn, since, until, batch_rows)) as batches:
                    async for batch in batches:
                        writer.write(batch.table)
                        counts.rows += batch.table.num_rows
                        counts.fraud += batch.fraud
                        counts.legitimate += batch.legitimate
    except OSError as exc:  # a lost server is asyncpg's error: decisions_connection says it
        raise ExportError(f"cannot write {out}: {exc}") from exc
    return counts
