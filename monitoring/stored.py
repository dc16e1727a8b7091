"""A period's stored decisions with their effective labels, read from PostgreSQL as the
frame monitoring.figures reads: the shared query (persistence.labelled), a chunk at a time
through a server-side cursor, all from one snapshot."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

import asyncpg
import numpy as np
import pandas as pd

from monitoring.figures import COLUMNS
from persistence.labelled import labelled_decisions

SELECTED = "d.event_time, d.amount, d.currency, d.score, d.decision"
QUERY = labelled_decisions(SELECTED)
SCOPED_QUERY = labelled_decisions(SELECTED, one_scope=True)
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
) -> pd.DataFrame:
    """The decisions with `since <= event time < until` (COLUMNS), each once, in event-time
    order; only those of `scope` if given (a key that scores sees only its own).
    ReportTooLarge, before reading them, if there are more than `max_rows`."""
    chunks: list[pd.DataFrame] = []
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        if max_rows is not None:
            rows = await conn.fetchval(COUNT, since, until, scope)
            if rows > max_rows:
                raise ReportTooLarge(
                    f"the period holds {rows:,} decisions; a report reads at most "
                    f"{max_rows:,}: choose a shorter period"
                )
        if scope is None:
            cursor = await conn.cursor(QUERY, since, until)
        else:
            cursor = await conn.cursor(SCOPED_QUERY, since, until, scope)
        while batch := await cursor.fetch(FETCH_ROWS):
            # Off the event loop: in the API process, scoring shares it.
            chunks.append(await asyncio.to_thread(to_frame, batch))
    if not chunks:
        return to_frame([])
    return pd.concat(chunks, ignore_index=True)


def to_frame(records: Sequence[asyncpg.Record]) -> pd.DataFrame:
    """One fetched chunk as compact columns: the repeated texts (currency, decision, label)
    as categories, so a long period is a few tens of bytes a row, not a record each."""
    return pd.DataFrame(
        {
            "event_time": pd.to_datetime([r["event_time"] for r in records], utc=True),
            "amount": np.array([r["amount"] for r in records], dtype=np.float64),
            "currency": pd.Categorical([r["currency"] for r in records]),
            "score": np.array([r["score"] for r in records], dtype=np.float64),
            "decision": pd.Categorical([r["decision"] for r in records]),
            "label": pd.Categorical([r["label"] for r in records]),
        },
        columns=list(COLUMNS),
    )
