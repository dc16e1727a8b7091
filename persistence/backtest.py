"""A rule backtest over the decisions stored in PostgreSQL: a period's transactions with
their effective labels, and the look-back before it that their features need, read through
a server-side cursor from one snapshot; the arithmetic is controls.backtest's."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import numpy as np
import pandas as pd

from controls.backtest import LOOKBACK_MS, BacktestError, BacktestReport, backtest, rows_from_frame
from controls.expression import compile_condition
from controls.ruleset import check_action
from features.schema import LABEL_COLUMN, LABEL_REPORTED_COLUMN, SCOPE_COLUMN
from persistence.export import REQUEST_COLUMNS, _request_field, rfc3339
from persistence.labelled import labelled_decisions

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
LOOKBACK = timedelta(milliseconds=LOOKBACK_MS)
FETCH_ROWS = 10_000
# The look-back (31 days) may hold many more rows than a short period: it is bounded too.
LOOKBACK_FACTOR = 10

COUNT = """
SELECT count(*) FILTER (WHERE d.event_time >= $2) AS period, count(*) AS total
FROM decisions d JOIN decision_ids USING (scope, transaction_id, scored_at)
WHERE d.event_time >= $1 AND d.event_time < $3
"""

# export.QUERY's rows with what a backtest reads beside them: the components and the
# decision's source (stored in the response) and the effective label itself.
QUERY = labelled_decisions(
    f"d.scope, {', '.join(_request_field(c) for c in REQUEST_COLUMNS)}, "
    "d.score, d.risk_tier, d.decision, "
    "(d.response->'components'->>'xgboost')::double precision AS xgboost, "
    "(d.response->'components'->>'isolation_forest')::double precision AS isolation_forest, "
    "d.decision_source"
)


class BacktestTooLarge(BacktestError):
    """The period (or its look-back) holds more rows than the backtest may read."""


@asynccontextmanager
async def _connection(source: asyncpg.Connection | asyncpg.Pool) -> AsyncIterator[Any]:
    if isinstance(source, asyncpg.Pool):
        async with source.acquire() as conn:
            yield conn
    else:
        yield source


async def backtest_stored(
    conn_or_pool: asyncpg.Connection | asyncpg.Pool,
    condition: str,
    action: str,
    since: datetime,
    until: datetime,
    decisions_mapping: Mapping[str, str],
    max_rows: int,
    *,
    label_delay_days: float = 7.0,
    lookback: timedelta = LOOKBACK,
) -> BacktestReport:
    """`condition` -> `action` over the transactions with since <= event time < until.
    ExpressionError / RuleError for a bad rule (checked before any query), BacktestTooLarge
    for a period of more than `max_rows` rows (or a look-back of more than LOOKBACK_FACTOR
    times that). Read-only; the caller bounds the time (statement_timeout, wait_for)."""
    compiled = compile_condition(condition)
    check_action(action)
    if until <= since:
        raise BacktestError(f"until ({rfc3339(until)}) is not after since ({rfc3339(since)})")
    start = since - lookback
    async with (
        _connection(conn_or_pool) as conn,
        conn.transaction(isolation="repeatable_read", readonly=True),
    ):
        counts = await conn.fetchrow(COUNT, start, since, until)
        if counts["period"] > max_rows:
            raise BacktestTooLarge(
                f"the period holds {counts['period']:,} transactions; a backtest reads at "
                f"most {max_rows:,}: choose a shorter period"
            )
        if counts["total"] - counts["period"] > LOOKBACK_FACTOR * max_rows:
            raise BacktestTooLarge(
                f"the {lookback.days} days before the period hold "
                f"{counts['total'] - counts['period']:,} transactions; at most "
                f"{LOOKBACK_FACTOR * max_rows:,} are read for the features' history"
            )
        # Each fetched chunk's values go into columns at once: the records themselves (a
        # Python object per row and per field) are never all held together.
        rows = StoredColumns()
        cursor = await conn.cursor(QUERY, start, until)
        while batch := await cursor.fetch(FETCH_ROWS):
            rows.add(batch)
    report = backtest(
        rows_from_frame(
            rows.frame(),
            compiled,
            decisions_mapping,
            label_delay_days,
            since_ms=_ms(since),
            until_ms=_ms(until),
        ),
        compiled,
        action,
        decisions_mapping,
        since=rfc3339(since),
        until=rfc3339(until),
    )
    return report


# QUERY's columns read as numbers (float64, NaN where null).
NUMBERS = ("score", "xgboost", "isolation_forest", "amount", "latitude", "longitude")
SELECTED = (
    SCOPE_COLUMN,  # a transaction is its id within its scope
    *REQUEST_COLUMNS,
    *("score", "risk_tier", "decision", "xgboost", "isolation_forest"),
    *("decision_source", "label", "reported_at"),
)


# Text columns whose every value differs: not worth sharing.
UNIQUE = ("transaction_id", "timestamp")


class StoredColumns:
    """QUERY's rows gathered column by column, a fetched chunk at a time: numbers as float64
    arrays, the rest as lists of their values, one object per distinct value (a card,
    merchant or currency repeats over the rows, and the driver makes a new string for each
    row: about 1 KB a row before, a quarter of it after)."""

    def __init__(self) -> None:
        self._values: dict[str, list[Any]] = {c: [] for c in SELECTED}
        self._distinct: dict[str, dict[Any, Any]] = {
            c: {} for c in SELECTED if c not in NUMBERS and c not in UNIQUE
        }

    def add(self, records: Sequence[asyncpg.Record]) -> None:
        for c, values in self._values.items():
            if c in NUMBERS:
                values.append(np.array([r[c] for r in records], dtype=np.float64))
            elif c in UNIQUE:
                values += [r[c] for r in records]
            else:
                distinct = self._distinct[c]
                values += [distinct.setdefault(r[c], r[c]) for r in records]

    def frame(self) -> pd.DataFrame:
        """A history frame: the export's columns (is_fraud 1 and the report's time for
        fraud) plus the effective `label` itself and the decision's source."""
        columns = {
            c: np.concatenate(v) if c in NUMBERS and v else v
            for c, v in self._values.items()
            if c not in ("label", "reported_at")
        }
        out = pd.DataFrame(columns, columns=[c for c in SELECTED if c in columns])
        for c in NUMBERS:
            out[c] = pd.to_numeric(out[c])
        labels = self._values["label"]
        fraud = [label == "fraud" for label in labels]
        out["label"] = labels
        out[LABEL_COLUMN] = np.array(fraud, dtype=np.int8)
        out[LABEL_REPORTED_COLUMN] = [
            rfc3339(at) if f else None
            for at, f in zip(self._values["reported_at"], fraud, strict=True)
        ]
        return out


def frame(records: Sequence[asyncpg.Record]) -> pd.DataFrame:
    """QUERY's rows as a history frame (StoredColumns.frame)."""
    rows = StoredColumns()
    rows.add(records)
    return rows.frame()


def _ms(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)
