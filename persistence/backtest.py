"""A rule backtest over the decisions stored in PostgreSQL: a period's transactions with
their effective labels, and the look-back before it that their features need, read through
a server-side cursor from one snapshot; the arithmetic is controls.backtest's."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
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
from persistence.history import EFFECTIVE_FIRST

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
QUERY = f"""
SELECT d.scope, {", ".join(_request_field(c) for c in REQUEST_COLUMNS)},
    d.score, d.risk_tier, d.decision,
    (d.response->'components'->>'xgboost')::double precision AS xgboost,
    (d.response->'components'->>'isolation_forest')::double precision AS isolation_forest,
    d.decision_source,
    f.label, f.reported_at
FROM decisions d
JOIN decision_ids USING (scope, transaction_id, scored_at)
LEFT JOIN (
    SELECT DISTINCT ON (scope, transaction_id) scope, transaction_id, label, reported_at
    FROM feedback ORDER BY scope, transaction_id, {EFFECTIVE_FIRST}
) f USING (scope, transaction_id)
WHERE d.event_time >= $1 AND d.event_time < $2
ORDER BY d.event_time, scope, transaction_id
"""


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
        records: list[asyncpg.Record] = []
        cursor = await conn.cursor(QUERY, start, until)
        while batch := await cursor.fetch(FETCH_ROWS):
            records += batch
    report = backtest(
        rows_from_frame(
            frame(records),
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


def frame(records: list[asyncpg.Record]) -> pd.DataFrame:
    """QUERY's rows as a history frame: the export's columns (is_fraud 1 and the report's
    time for fraud) plus the effective `label` itself."""
    columns = [
        SCOPE_COLUMN,
        *REQUEST_COLUMNS,
        "score",
        "risk_tier",
        "decision",
        "xgboost",
        "isolation_forest",
    ]
    out = pd.DataFrame({c: [r[c] for r in records] for c in columns}, columns=columns)
    labels = [r["label"] for r in records]
    fraud = [label == "fraud" for label in labels]
    out["decision_source"] = [r["decision_source"] for r in records]
    out["label"] = labels
    out[LABEL_COLUMN] = np.array(fraud, dtype=np.int8)
    out[LABEL_REPORTED_COLUMN] = [
        rfc3339(r["reported_at"]) if f else None for r, f in zip(records, fraud, strict=True)
    ]
    for name in ("score", "xgboost", "isolation_forest", "amount", "latitude", "longitude"):
        out[name] = pd.to_numeric(out[name])
    return out


def _ms(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)
