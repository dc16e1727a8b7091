"""Decision history and feedback in PostgreSQL: the queries behind /v1/transactions and
/v1/feedback, plus the keyset cursor.

A transaction id is unique only within its scope, the id of the API key that scored it:
every look-up names the scope (`pick_scope` finds it for a caller who did not).
Lists are ordered newest first by (scored_at, scope, transaction_id); the cursor is that
key of the last row returned, so a page costs one index range scan however deep it is.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson

from features.definitions import LABELLED_ENTITIES
from vocabulary import ENTITY_FIELDS

SUMMARY_COLUMNS = (
    "scope, transaction_id, scored_at, card_id, merchant_id, amount, currency, channel, score, "
    "risk_tier, decision, decision_source, model_version, degraded, latency_ms"
)


# The one stored decision of transaction $2 in scope $1: decision_ids names its partition
# key, so the lookup reads one partition.
THE_DECISION = (
    "FROM decisions d WHERE d.scope = $1 AND d.transaction_id = $2 AND d.scored_at = "
    "(SELECT scored_at FROM decision_ids WHERE scope = $1 AND transaction_id = $2)"
)


# A transaction id: the idempotency key of /v1/score, also what a cursor carries.
TRANSACTION_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
# A scope: an API key's id (16 hex digits), or '' for decisions stored before scopes.
SCOPE = re.compile(r"^[A-Za-z0-9_.:-]{0,64}$")


class AmbiguousTransaction(LookupError):
    """The caller did not name a scope, and the id is in several it may see."""

    def __init__(self, transaction_id: str, scopes: Sequence[str]) -> None:
        named = ", ".join(repr(s) for s in scopes)
        super().__init__(
            f"transaction_id {transaction_id!r} was scored by {len(scopes)} API keys (scopes "
            f"{named}): name one with `scope`"
        )
        self.scopes = tuple(scopes)


@dataclass(frozen=True, slots=True)
class Visibility:
    """The scopes a caller may see: `own` only (a key that scores and is not an admin sees
    the ids it scored), or every scope (None: read, review and admin keys)."""

    own: str | None = None

    def pick(self, asked: str | None, held: Sequence[str]) -> str | None:
        """The scope a look-up of an id means, given the scopes that hold it: the one asked
        for, else the only visible one; None when no visible scope holds it;
        AmbiguousTransaction when several do."""
        visible = [s for s in held if self.own is None or s == self.own]
        if asked is not None:
            return asked if asked in visible else None
        if len(visible) > 1:
            raise AmbiguousTransaction("", visible)
        return visible[0] if visible else None


async def scopes_holding(conn: asyncpg.Connection, transaction_id: str) -> list[str]:
    """The scopes in which this transaction id is stored, sorted."""
    rows = await conn.fetch(
        "SELECT scope FROM decision_ids WHERE transaction_id = $1 ORDER BY scope", transaction_id
    )
    return [r["scope"] for r in rows]


async def pick_scope(
    conn: asyncpg.Connection, transaction_id: str, asked: str | None, seen_by: Visibility
) -> str | None:
    """The scope of a stored transaction a caller means (see Visibility.pick)."""
    try:
        return seen_by.pick(asked, await scopes_holding(conn, transaction_id))
    except AmbiguousTransaction as exc:
        raise AmbiguousTransaction(transaction_id, exc.scopes) from None


class BadCursor(ValueError):
    """A cursor this API did not issue."""


Position = tuple[datetime, str, str]  # scored_at, scope, transaction_id


def encode_cursor(scored_at: datetime, scope: str, transaction_id: str) -> str:
    raw = orjson.dumps([scored_at.isoformat(), scope, transaction_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> Position:
    """The (scored_at, scope, transaction_id) of a cursor from encode_cursor; BadCursor for
    anything else, including a well-formed one whose time PostgreSQL could not take."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        text, scope, transaction_id = orjson.loads(raw)
        scored_at = datetime.fromisoformat(text)
        # Naive times, and aware ones outside years 1-9999 in UTC, would reach asyncpg.
        if scored_at.tzinfo is None:
            raise ValueError("naive time")
        scored_at.astimezone(UTC)
    except (binascii.Error, orjson.JSONDecodeError, TypeError, ValueError, OverflowError) as exc:
        raise BadCursor("cursor is not one returned by this API") from exc
    if (
        not isinstance(transaction_id, str)
        or TRANSACTION_ID.fullmatch(transaction_id) is None
        or not isinstance(scope, str)
        or SCOPE.fullmatch(scope) is None
    ):
        raise BadCursor("cursor is not one returned by this API")
    return scored_at, scope, transaction_id


@dataclass(frozen=True, slots=True)
class ListFilter:
    card_id: str | None = None
    risk_tier: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    after: Position | None = None
    limit: int = 50
    scope: str | None = None
    transaction_id: str | None = None

    def sql(self) -> tuple[str, list[Any]]:
        """WHERE ... ORDER BY ... LIMIT for this filter, with its arguments."""
        clauses: list[str] = []
        args: list[Any] = []
        for column, value, op in (
            ("scope", self.scope, "="),
            ("transaction_id", self.transaction_id, "="),
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
            clauses.append(
                f"(scored_at, scope, transaction_id) < "
                f"(${len(args) - 2}, ${len(args) - 1}, ${len(args)})"
            )
        args.append(self.limit + 1)  # one more tells whether there is a next page
        where = f"WHERE {' AND '.join(clauses)} " if clauses else ""
        return (
            f"SELECT {SUMMARY_COLUMNS} FROM decisions {where}"
            f"ORDER BY scored_at DESC, scope DESC, transaction_id DESC LIMIT ${len(args)}",
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
    last = page[-1] if more else None
    cursor = (
        None
        if last is None
        else encode_cursor(last["scored_at"], last["scope"], last["transaction_id"])
    )
    return page, cursor


async def get_decision(
    conn: asyncpg.Connection, scope: str, transaction_id: str
) -> dict[str, Any] | None:
    """One decision with its request, response and labels; None if it is not stored."""
    row = await conn.fetchrow(
        f"SELECT {SUMMARY_COLUMNS}, stored_at, request::text AS request, "
        f"response::text AS response {THE_DECISION}",
        scope,
        transaction_id,
    )
    if row is None:
        return None
    labels = await conn.fetch(
        "SELECT label, source, reported_at, received_at, key_id FROM feedback "
        "WHERE scope = $1 AND transaction_id = $2 ORDER BY reported_at, source",
        scope,
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
    scope: str  # the scope of the transaction id (the key id that scored it)
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


class TooManyLabels(ValueError):
    """The transaction has labels from as many sources as it may: a new source is refused."""

    def __init__(self, transaction_id: str, limit: int) -> None:
        super().__init__(
            f"transaction {transaction_id!r} already has labels from {limit} sources, the "
            "most one transaction may have (FRAUD_MAX_LABEL_SOURCES); report again with one "
            "of its sources"
        )


# The entities whose label windows a confirmed label updates, and their request fields.
LABELLED_ENTITY_FIELDS = {e: ENTITY_FIELDS[e] for e in LABELLED_ENTITIES}


async def store_feedback(
    conn: asyncpg.Connection, feedback: Feedback, max_sources: int | None = None
) -> Stored:
    """Insert feedback (call inside a transaction). The same report again is not an error;
    a different label or time from the same source is ConflictingFeedback; a new source
    beyond `max_sources` for the transaction is TooManyLabels (None: no bound)."""
    key = (feedback.scope, feedback.transaction_id)
    # The transaction's id row, locked to the end of the transaction: reports on one
    # transaction take turns, so the bound on its sources holds under concurrency.
    if await conn.fetchval(
        "SELECT 1 FROM decision_ids WHERE scope = $1 AND transaction_id = $2 FOR UPDATE", *key
    ):
        request = await conn.fetchval(f"SELECT d.request::text {THE_DECISION}", *key)
    else:
        request = None
    if request is None:
        raise UnknownTransaction(feedback.transaction_id)
    fields = orjson.loads(request)
    entities = {e: fields[f] for e, f in LABELLED_ENTITY_FIELDS.items() if fields.get(f)}
    row = await conn.fetchrow(
        "SELECT label, reported_at FROM feedback "
        "WHERE scope = $1 AND transaction_id = $2 AND source = $3",
        *key,
        feedback.source,
    )
    created = row is None
    if row is None:
        if (
            max_sources is not None
            and await conn.fetchval(
                "SELECT count(*) FROM feedback WHERE scope = $1 AND transaction_id = $2", *key
            )
            >= max_sources
        ):
            raise TooManyLabels(feedback.transaction_id, max_sources)
        row = await conn.fetchrow(
            "INSERT INTO feedback (scope, transaction_id, source, label, reported_at, key_id) "
            "VALUES ($1, $2, $3, $4, COALESCE($5, now()), $6) RETURNING label, reported_at",
            *key,
            feedback.source,
            feedback.label,
            feedback.reported_at,
            feedback.key_id,
        )
    # The same report again (a retry) is fine; without a time, the label must match.
    elif row["label"] != feedback.label or feedback.reported_at not in (None, row["reported_at"]):
        raise ConflictingFeedback(Feedback(*key, row["label"], feedback.source, row["reported_at"]))
    latest = await conn.fetchrow(
        "SELECT label, reported_at FROM feedback WHERE scope = $1 AND transaction_id = $2 "
        f"ORDER BY {EFFECTIVE_FIRST} LIMIT 1",
        *key,
    )
    return Stored(
        row["label"], row["reported_at"], created, entities, latest["label"], latest["reported_at"]
    )
