"""Decision history and feedback in PostgreSQL: the queries behind /v1/transactions and
/v1/feedback, plus the keyset cursor.

Lists are ordered newest first by (scored_at, transaction_id); the cursor is that pair
of the last row returned, so a page costs one index range scan however deep it is.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson

SUMMARY_COLUMNS = (
    "transaction_id, scored_at, card_id, merchant_id, amount, currency, channel, score, "
    "risk_tier, decision, decision_source, model_version, degraded, latency_ms"
)


# The one stored decision of transaction $1: decision_ids names its partition key, so
# the lookup reads one partition.
THE_DECISION = (
    "FROM decisions d WHERE d.transaction_id = $1 "
    "AND d.scored_at = (SELECT scored_at FROM decision_ids WHERE transaction_id = $1)"
)


# A transaction id: the idempotency key of /v1/score, also what a cursor carries.
TRANSACTION_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


class BadCursor(ValueError):
    """A cursor this API did not issue."""


def encode_cursor(scored_at: datetime, transaction_id: str) -> str:
    raw = orjson.dumps([scored_at.isoformat(), transaction_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (scored_at, transaction_id) of a cursor from encode_cursor; BadCursor for
    anything else, including a well-formed one whose time PostgreSQL could not take."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        text, transaction_id = orjson.loads(raw)
        scored_at = datetime.fromisoformat(text)
        # Naive times, and aware ones outside years 1-9999 in UTC, would reach asyncpg.
        if scored_at.tzinfo is None:
            raise ValueError("naive time")
        scored_at.astimezone(UTC)
    except (binascii.Error, orjson.JSONDecodeError, TypeError, ValueError, OverflowError) as exc:
        raise BadCursor("cursor is not one returned by this API") from exc
    if not isinstance(transaction_id, str) or TRANSACTION_ID.fullmatch(transaction_id) is None:
        raise BadCursor("cursor is not one returned by this API")
    return scored_at, transaction_id


@dataclass(frozen=True, slots=True)
class ListFilter:
    card_id: str | None = None
    risk_tier: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    after: tuple[datetime, str] | None = None
    limit: int = 50

    def sql(self) -> tuple[str, list[Any]]:
        """WHERE ... ORDER BY ... LIMIT for this filter, with its arguments."""
        clauses: list[str] = []
        args: list[Any] = []
        for column, value, op in (
            ("card_id", self.card_id, "="),
            ("risk_tier", self.risk_tier, "="),
            ("scored_at", self.since, ">="),
            ("scored_at", self.until, "<"),
        ):
            if value is not None:
                args.append(value)
                clauses.append(f"{column} {op} ${len(args)}")
        if self.after is not None:
            args += list(self.after)
            clauses.append(f"(scored_at, transaction_id) < (${len(args) - 1}, ${len(args)})")
        args.append(self.limit + 1)  # one more tells whether there is a next page
        where = f"WHERE {' AND '.join(clauses)} " if clauses else ""
        return (
            f"SELECT {SUMMARY_COLUMNS} FROM decisions {where}"
            f"ORDER BY scored_at DESC, transaction_id DESC LIMIT ${len(args)}",
            args,
        )


def summary(row: asyncpg.Record) -> dict[str, Any]:
    return {key: row[key] for key in SUMMARY_COLUMNS.split(", ")}


async def list_decisions(
    conn: asyncpg.Connection, where: ListFilter
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of decisions and the cursor of the next page (None on the last)."""
    query, args = where.sql()
    rows = await conn.fetch(query, *args)
    page = [summary(r) for r in rows[: where.limit]]
    more = len(rows) > where.limit
    cursor = encode_cursor(page[-1]["scored_at"], page[-1]["transaction_id"]) if more else None
    return page, cursor


async def get_decision(conn: asyncpg.Connection, transaction_id: str) -> dict[str, Any] | None:
    """One decision with its request, response and labels; None if it is not stored."""
    row = await conn.fetchrow(
        f"SELECT {SUMMARY_COLUMNS}, stored_at, request::text AS request, "
        f"response::text AS response {THE_DECISION}",
        transaction_id,
    )
    if row is None:
        return None
    labels = await conn.fetch(
        "SELECT label, source, reported_at, received_at, key_id FROM feedback "
        "WHERE transaction_id = $1 ORDER BY reported_at, source",
        transaction_id,
    )
    return summary(row) | {
        "stored_at": row["stored_at"],
        "request": orjson.Fragment(row["request"]),
        "response": orjson.Fragment(row["response"]),
        "labels": [dict(r) for r in labels],
    }


@dataclass(frozen=True, slots=True)
class Feedback:
    transaction_id: str
    label: str
    source: str
    reported_at: datetime | None  # None: when it is received
    key_id: str | None = None  # the API key that sent it (app.auth.key_id), None: not known


@dataclass(frozen=True, slots=True)
class Stored:
    """The outcome of storing feedback."""

    label: str  # as stored: the first report of this source wins
    reported_at: datetime
    created: bool
    entities: dict[str, str]  # the transaction's entity values, for the label windows
    effective_label: str  # the latest report over every source
    effective_at: datetime


# A transaction's effective label is its latest report over every source; at the same
# time, fraud (sorted before legitimate) wins.
EFFECTIVE_FIRST = "reported_at DESC, label"


class UnknownTransaction(LookupError):
    pass


class ConflictingFeedback(ValueError):
    def __init__(self, stored: Feedback) -> None:
        super().__init__(
            f"{stored.source} already reported {stored.label} at {stored.reported_at} "
            "for this transaction"
        )
        self.stored = stored


ENTITY_FIELDS = {
    "card": "card_id",
    "device": "device_id",
    "ip": "ip_address",
    "merchant": "merchant_id",
}


async def store_feedback(conn: asyncpg.Connection, feedback: Feedback) -> Stored:
    """Insert feedback (call inside a transaction). The same report again is not an error;
    a different label or time from the same source is ConflictingFeedback."""
    request = await conn.fetchval(
        f"SELECT d.request::text {THE_DECISION}",
        feedback.transaction_id,
    )
    if request is None:
        raise UnknownTransaction(feedback.transaction_id)
    fields = orjson.loads(request)
    entities = {e: fields[f] for e, f in ENTITY_FIELDS.items() if fields.get(f)}
    row = await conn.fetchrow(
        "INSERT INTO feedback (transaction_id, source, label, reported_at, key_id) "
        "VALUES ($1, $2, $3, COALESCE($4, now()), $5) "
        "ON CONFLICT (transaction_id, source) DO NOTHING RETURNING label, reported_at",
        feedback.transaction_id,
        feedback.source,
        feedback.label,
        feedback.reported_at,
        feedback.key_id,
    )
    created = row is not None
    if row is None:
        row = await conn.fetchrow(
            "SELECT label, reported_at FROM feedback WHERE transaction_id = $1 AND source = $2",
            feedback.transaction_id,
            feedback.source,
        )
        # The same report again (a retry) is fine; without a time, the label must match.
        if row["label"] != feedback.label or feedback.reported_at not in (None, row["reported_at"]):
            raise ConflictingFeedback(
                Feedback(feedback.transaction_id, row["label"], feedback.source, row["reported_at"])
            )
    latest = await conn.fetchrow(
        "SELECT label, reported_at FROM feedback WHERE transaction_id = $1 "
        f"ORDER BY {EFFECTIVE_FIRST} LIMIT 1",
        feedback.transaction_id,
    )
    return Stored(
        row["label"], row["reported_at"], created, entities, latest["label"], latest["reported_at"]
    )
