"""A period's stored decisions as training rows (`fraud export`): each transaction's
original request, its effective label, and what the engine decided. SQL and row mapping
only; the caller brings the connection and writes the file.

Transactions nobody labelled are exported as legitimate (`is_fraud` 0), as training on
chargebacks does: unreported fraud looks legitimate until someone reports it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pyarrow as pa

from features.schema import (
    LABEL_COLUMN,
    LABEL_REPORTED_COLUMN,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    SCOPE_COLUMN,
)
from persistence.labelled import labelled_decisions

REQUEST_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
NUMBER_COLUMNS = ("amount", "latitude", "longitude")
# What the engine answered, for analysis; training reads only the contract's columns.
DECISION_COLUMNS = ("score", "risk_tier", "decision", "model_version")

# The file's columns, in order (a test pins them). `scope` first: a transaction id is
# unique only within the scope of the key that scored it, and training reads both.
SCHEMA = pa.schema(
    [pa.field(SCOPE_COLUMN, pa.string())]
    + [pa.field(c, pa.float64() if c in NUMBER_COLUMNS else pa.string()) for c in REQUEST_COLUMNS]
    + [
        pa.field(LABEL_COLUMN, pa.int8()),
        pa.field(LABEL_REPORTED_COLUMN, pa.string()),
        pa.field("score", pa.float64()),
        pa.field("risk_tier", pa.string()),
        pa.field("decision", pa.string()),
        pa.field("model_version", pa.string()),
    ]
)


def _request_field(name: str) -> str:
    value = f"d.request->>'{name}'"
    return (
        f"({value})::double precision AS {name}" if name in NUMBER_COLUMNS else f"{value} AS {name}"
    )


# One row per transaction, by event time, with its effective label (persistence.labelled).
QUERY = labelled_decisions(
    f"d.scope, {', '.join(_request_field(c) for c in REQUEST_COLUMNS)}, "
    "d.score, d.risk_tier, d.decision, d.model_version"
)


@dataclass(frozen=True, slots=True)
class ExportBatch:
    table: pa.Table  # SCHEMA
    fraud: int
    legitimate: int  # labelled legitimate; the table's other rows are unlabelled


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def to_batch(records: Sequence[Mapping[str, Any]]) -> ExportBatch:
    """Rows of QUERY as the file's columns. `label_reported_at` is when the fraud label
    became known (the effective report's time), empty where the label is not fraud."""
    columns: dict[str, list[Any]] = {
        c: [r[c] for r in records] for c in (SCOPE_COLUMN, *REQUEST_COLUMNS, *DECISION_COLUMNS)
    }
    fraud = [r["label"] == "fraud" for r in records]
    columns[LABEL_COLUMN] = [int(f) for f in fraud]
    columns[LABEL_REPORTED_COLUMN] = [
        rfc3339(r["reported_at"]) if f else None for r, f in zip(records, fraud, strict=True)
    ]
    return ExportBatch(
        pa.Table.from_pydict({c: columns[c] for c in SCHEMA.names}, schema=SCHEMA),
        fraud=sum(fraud),
        legitimate=sum(r["label"] == "legitimate" for r in records),
    )


async def export_batches(
    conn: asyncpg.Connection, since: datetime, until: datetime, batch_rows: int = 10_000
) -> AsyncGenerator[ExportBatch, None]:
    """The transactions with `since <= event time < until`, `batch_rows` at a time through a
    server-side cursor, all from one snapshot."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        cursor = await conn.cursor(QUERY, since, until)
        while records := await cursor.fetch(batch_rows):
            yield to_batch(records)
