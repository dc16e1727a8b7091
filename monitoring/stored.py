"""A period's stored decisions with their effective labels, read from PostgreSQL as the
frame monitoring.figures reads: the shared query (persistence.labelled), a chunk at a time
through a server-side cursor, all from one snapshot. The challenger's columns are read
only for `fraud report --compare` (monitoring.compare)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

import asyncpg
import numpy as np
import pandas as pd

from monitoring.compare import COMPARE_COLUMNS
from monitoring.figures import COLUMNS
from persistence.labelled import labelled_decisions

SELECTED = "d.event_time, d.amount, d.currency, d.score, d.decision"
QUERY = labelled_decisions(SELECTED)
SCOPED_QUERY = labelled_decisions(SELECTED, one_scope=True)
# The champion's model version and the challenger's shadow result beside them.
COMPARE_QUERY = labelled_decisions(
    SELECTED
    + ", d.model_version, d.challenger_model_version, d.challenger_score, d.challenger_decision"
)
COUNT = """
SELECT count(*) FROM decisions d JOIN decision_ids USING (scope, transaction_id, scored_at)
WHERE d.event_time >= $1 AND d.event_time < $2 AND ($3::text IS NULL OR d.scope = $3)
"""
FETCH_ROWS = 10_000


class ReportTooLarge(ValueError):
    """The period holds more decisions than the report may read."""


async def read_period(
    conn: asyncpg.Connection,
    since: datetime,
    until: datetime,
    max_rows: int | None = None,
    scope: str | None = None,
    statement_timeout_ms: int | None = None,
    challenger: bool = False,
) -> pd.DataFrame:
    """The decisions with `since <= event time < until` (COLUMNS), each once, in event-time
    order; only those of `scope` if given (a key that scores sees only its own).
    ReportTooLarge, before reading them, if there are more than `max_rows`. `challenger`
    (every scope only): COMPARE_COLUMNS, the champion's model version and the
    challenger's version, score and decision too (null where none was loaded).
    `statement_timeout_ms`: each statement's bound (asyncpg.QueryCanceledError past it)."""
    if challenger and scope is not None:
        raise ValueError("the challenger's columns are read for every scope only")
    chunks: list[pd.DataFrame] = []
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        if statement_timeout_ms is not None:
            await conn.execute(f"SET LOCAL statement_timeout = {int(statement_timeout_ms)}")
        if max_rows is not None:
            rows = await conn.fetchval(COUNT, since, until, scope)
            if rows > max_rows:
                raise ReportTooLarge(
                    f"the period holds {rows:,} decisions; a report reads at most "
                    f"{max_rows:,}: choose a shorter period"
                )
        if challenger:
            cursor = await conn.cursor(COMPARE_QUERY, since, until)
        elif scope is None:
            cursor = await conn.cursor(QUERY, since, until)
        else:
            cursor = await conn.cursor(SCOPED_QUERY, since, until, scope)
        while batch := await cursor.fetch(FETCH_ROWS):
            # Off the event loop: in the API process, scoring shares it.
            chunks.append(await asyncio.to_thread(to_frame, batch, challenger))
    if not chunks:
        return to_frame([], challenger)
    return pd.concat(chunks, ignore_index=True)


def to_frame(records: Sequence[asyncpg.Record], challenger: bool = False) -> pd.DataFrame:
    """One fetched chunk as compact columns: the repeated texts (currency, decision, label,
    model versions) as categories, so a long period is a few tens of bytes a row, not a
    record each. `challenger`: COMPARE_COLUMNS, else COLUMNS."""
    columns = {
        "event_time": pd.to_datetime([r["event_time"] for r in records], utc=True),
        "amount": np.array([r["amount"] for r in records], dtype=np.float64),
        "currency": pd.Categorical([r["currency"] for r in records]),
        "score": np.array([r["score"] for r in records], dtype=np.float64),
        "decision": pd.Categorical([r["decision"] for r in records]),
        "label": pd.Categorical([r["label"] for r in records]),
    }
    if not challenger:
        return pd.DataFrame(columns, columns=list(COLUMNS))
    columns |= {
        "model_version": pd.Categorical([r["model_version"] for r in records]),
        "challenger_model_version": pd.Categorical(
            [r["challenger_model_version"] for r in records]
        ),
        "challenger_score": np.array(
            [np.nan if r["challenger_score"] is None else r["challenger_score"] for r in records],
            dtype=np.float64,
        ),
        "challenger_decision": pd.Categorical([r["challenger_decision"] for r in records]),
    }
    return pd.DataFrame(columns, columns=list(COMPARE_COLUMNS))
