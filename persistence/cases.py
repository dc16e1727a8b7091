"""The review queue in PostgreSQL (tables of migrations/007_cases.sql): cases opened by the
consumer from flagged decisions, the queries behind /v1/cases, assignment and closing.

One open case (status open or assigned) per card at a time collects the card's flagged
decisions; a closed case stays as it was, and the card's next flagged decision opens a new
one. Pages of open and assigned cases run oldest first by (opened_at, id), pages of closed
ones newest resolved first by (resolved_at, id); the cursor names the order and that pair.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import asyncpg
import orjson

from persistence.history import SUMMARY_COLUMNS, summary
from vocabulary import TIERS

Status = Literal["open", "assigned", "closed"]
Verdict = Literal["fraud", "legitimate"]
# A tier's rank in SQL: the case carries the highest of its transactions'.
TIER_RANK = "array_position(ARRAY[" + ", ".join(f"'{t}'" for t in TIERS) + "], {})"
MAX_CASE_ID = 2**63 - 1
CARD_HISTORY = 20  # the card's latest decisions shown with a case


@dataclass(frozen=True, slots=True)
class CasePolicy:
    """Which decisions open (or join) a case: `review` always, `decline` by setting
    (FRAUD_CASE_ON_DECLINE)."""

    decisions: frozenset[str] = frozenset({"review"})

    @classmethod
    def of(cls, on_decline: bool) -> CasePolicy:
        return cls(frozenset({"review", "decline"} if on_decline else {"review"}))


REVIEW_ONLY = CasePolicy()  # the default: FRAUD_CASE_ON_DECLINE unset


# Decisions as write_batch returns them: scope, transaction_id, card_id, scored_at,
# event_time, amount, risk_tier, decision. Only decisions new to the database get here, so a
# re-delivered one never joins a case twice (case_transactions' key would refuse it).
OPEN_CASES = f"""
WITH flagged AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[],
                         $5::timestamptz[], $6::float8[], $7::text[])
        AS f(scope, transaction_id, card_id, scored_at, event_time, amount, risk_tier)
), per_card AS (
    SELECT card_id, count(*) AS n, sum(amount) AS total,
           min(event_time) AS first_at, max(event_time) AS last_at,
           (array_agg(risk_tier ORDER BY {TIER_RANK.format("risk_tier")} DESC))[1] AS tier
    FROM flagged GROUP BY card_id
), joined AS (
    INSERT INTO cases AS c (card_id, risk_tier, first_transaction_at, last_transaction_at,
                            transaction_count, total_amount)
    SELECT card_id, tier, first_at, last_at, n, total FROM per_card ORDER BY card_id
    ON CONFLICT (card_id) WHERE status <> 'closed' DO UPDATE SET
        transaction_count = c.transaction_count + EXCLUDED.transaction_count,
        total_amount = c.total_amount + EXCLUDED.total_amount,
        first_transaction_at = least(c.first_transaction_at, EXCLUDED.first_transaction_at),
        last_transaction_at = greatest(c.last_transaction_at, EXCLUDED.last_transaction_at),
        risk_tier = CASE
            WHEN {TIER_RANK.format("EXCLUDED.risk_tier")} > {TIER_RANK.format("c.risk_tier")}
            THEN EXCLUDED.risk_tier ELSE c.risk_tier END,
        updated_at = now()
    RETURNING id, card_id
)
INSERT INTO case_transactions (scope, transaction_id, case_id, scored_at)
SELECT f.scope, f.transaction_id, j.id, f.scored_at FROM flagged f JOIN joined j USING (card_id)
"""


async def open_cases(
    conn: asyncpg.Connection, inserted: Sequence[Mapping[str, Any]], policy: CasePolicy
) -> int:
    """Open or join each card's open case for the flagged decisions among `inserted` (call
    in the decisions' transaction); returns how many joined a case. Concurrent consumers
    meet on the one-open-case-per-card index: the second waits for the first and joins."""
    flagged = [r for r in inserted if r["decision"] in policy.decisions]
    if not flagged:
        return 0
    columns = (
        "scope",
        "transaction_id",
        "card_id",
        "scored_at",
        "event_time",
        "amount",
        "risk_tier",
    )
    await conn.execute(OPEN_CASES, *([r[c] for r in flagged] for c in columns))
    return len(flagged)


class BadCursor(ValueError):
    """A cursor this API did not issue for this order."""


Order = Literal["opened", "resolved"]


def encode_cursor(order: Order, at: datetime, case_id: int) -> str:
    raw = orjson.dumps([order, at.isoformat(), case_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, order: Order) -> tuple[datetime, int]:
    """The (time, id) of a cursor encode_cursor made for `order`; BadCursor for anything
    else (a cursor of the other order included)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        kind, text, case_id = orjson.loads(raw)
        at = datetime.fromisoformat(text)
        if at.tzinfo is None:
            raise ValueError("naive time")
        at.astimezone(UTC)  # OverflowError outside years 1-9999 in UTC
    except (binascii.Error, orjson.JSONDecodeError, TypeError, ValueError, OverflowError) as exc:
        raise BadCursor("cursor is not one returned by this API") from exc
    if kind != order:
        raise BadCursor(f"cursor belongs to another order than this status's ({order})")
    if type(case_id) is not int or not 0 < case_id <= MAX_CASE_ID:
        raise BadCursor("cursor is not one returned by this API")
    return at, case_id


CASE_COLUMNS = (
    "id, card_id, status, assignee, risk_tier, opened_at, updated_at, first_transaction_at, "
    "last_transaction_at, transaction_count, total_amount, verdict, note, resolved_by, resolved_at"
)


def case_row(row: asyncpg.Record) -> dict[str, Any]:
    return {key: row[key] for key in CASE_COLUMNS.split(", ")}


@dataclass(frozen=True, slots=True)
class CaseFilter:
    status: Status | None = None  # None: open and assigned
    assignee: str | None = None
    risk_tier: str | None = None
    after: tuple[datetime, int] | None = None
    limit: int = 50

    @property
    def order(self) -> Order:
        return "resolved" if self.status == "closed" else "opened"

    def _matching(self) -> tuple[list[str], list[Any]]:
        """The WHERE clauses of the filters (not the page's position), with their arguments."""
        args: list[Any] = []
        clauses = ["status <> 'closed'"] if self.status is None else []
        for column, value in (
            ("status", self.status),
            ("assignee", self.assignee),
            ("risk_tier", self.risk_tier),
        ):
            if value is not None:
                args.append(value)
                clauses.append(f"{column} = ${len(args)}")
        return clauses, args

    def count_sql(self) -> tuple[str, list[Any]]:
        """SELECT count(*) of the cases this filter matches, over all pages."""
        clauses, args = self._matching()
        return f"SELECT count(*) FROM cases WHERE {' AND '.join(clauses) or 'true'}", args

    def sql(self) -> tuple[str, list[Any]]:
        """SELECT ... WHERE ... ORDER BY ... LIMIT for this filter, with its arguments."""
        clauses, args = self._matching()
        column, direction, op = (
            ("resolved_at", "DESC", "<") if self.order == "resolved" else ("opened_at", "ASC", ">")
        )
        if self.after is not None:
            args += list(self.after)
            clauses.append(f"({column}, id) {op} (${len(args) - 1}, ${len(args)})")
        args.append(self.limit + 1)  # one more tells whether there is a next page
        return (
            f"SELECT {CASE_COLUMNS} FROM cases WHERE {' AND '.join(clauses) or 'true'} "
            f"ORDER BY {column} {direction}, id {direction} LIMIT ${len(args)}",
            args,
        )


async def list_cases(
    conn: asyncpg.Connection, where: CaseFilter
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of cases and the cursor of the next page (None on the last)."""
    query, args = where.sql()
    rows = await conn.fetch(query, *args)
    page = [case_row(r) for r in rows[: where.limit]]
    if len(rows) <= where.limit:
        return page, None
    last = page[-1]
    at = last["resolved_at"] if where.order == "resolved" else last["opened_at"]
    return page, encode_cursor(where.order, at, last["id"])


async def count_cases(conn: asyncpg.Connection, where: CaseFilter) -> int:
    """How many cases `where` matches, over all its pages."""
    query, args = where.count_sql()
    count: int = await conn.fetchval(query, *args)
    return count


# A stored decision as a case shows it: the decision layer's fields from the response
# (rows stored before rules and lists carry none of them: the model decided).
CASE_TRANSACTIONS = """
SELECT d.scope, d.transaction_id, d.scored_at, d.event_time, d.merchant_id, d.amount, d.currency,
       d.channel, d.score, d.risk_tier, d.decision, d.model_version, d.degraded,
       COALESCE(d.response->'reasons', '[]')::text AS reasons,
       COALESCE(d.response->'components', '{}')::text AS components,
       COALESCE(d.response->'rules', '[]')::text AS rules,
       COALESCE(d.response->'list', 'null')::text AS list,
       COALESCE(d.response->>'decision_source', 'model') AS decision_source,
       ct.added_at,
       (SELECT f.label FROM feedback f
        WHERE f.scope = d.scope AND f.transaction_id = d.transaction_id
        ORDER BY f.reported_at DESC, f.label LIMIT 1) AS label
FROM case_transactions ct
JOIN decisions d
  ON d.scope = ct.scope AND d.transaction_id = ct.transaction_id AND d.scored_at = ct.scored_at
WHERE ct.case_id = $1 AND ($2::text IS NULL OR ct.scope = $2)
ORDER BY ct.scored_at, ct.scope, ct.transaction_id
"""
JSON_FIELDS = ("reasons", "components", "rules", "list")


async def get_case(
    conn: asyncpg.Connection, case_id: int, only: str | None = None
) -> dict[str, Any] | None:
    """A case with its transactions and its card's latest decisions (of scope `only`; None:
    every scope); None if unknown."""
    row = await conn.fetchrow(f"SELECT {CASE_COLUMNS} FROM cases WHERE id = $1", case_id)
    if row is None:
        return None
    transactions = [
        {k: orjson.Fragment(v) if k in JSON_FIELDS else v for k, v in r.items()}
        for r in await conn.fetch(CASE_TRANSACTIONS, case_id, only)
    ]
    history = await conn.fetch(
        f"SELECT {SUMMARY_COLUMNS}, COALESCE(response->>'decision_source', 'model') "
        "AS decision_source FROM decisions WHERE card_id = $1 AND ($3::text IS NULL OR "
        "scope = $3) ORDER BY scored_at DESC, scope DESC, transaction_id DESC LIMIT $2",
        row["card_id"],
        CARD_HISTORY,
        only,
    )
    return case_row(row) | {
        "transactions": transactions,
        "card_history": [summary(r) | {"decision_source": r["decision_source"]} for r in history],
    }


class UnknownCase(LookupError):
    pass


class CaseClosed(ValueError):
    def __init__(self, case_id: int) -> None:
        super().__init__(f"case {case_id} is closed")


async def open_case_for_update(conn: asyncpg.Connection, case_id: int) -> asyncpg.Record:
    """The case, locked to the end of the transaction, if it is not closed; UnknownCase or
    CaseClosed otherwise. Two analysts acting at once take turns here."""
    row = await conn.fetchrow(f"SELECT {CASE_COLUMNS} FROM cases WHERE id = $1 FOR UPDATE", case_id)
    if row is None:
        raise UnknownCase(case_id)
    if row["status"] == "closed":
        raise CaseClosed(case_id)
    return row


async def assign_case(conn: asyncpg.Connection, case_id: int, assignee: str) -> dict[str, Any]:
    """Assign a case that is not closed (to someone else again, if it was assigned)."""
    async with conn.transaction():
        await open_case_for_update(conn, case_id)
        row = await conn.fetchrow(
            "UPDATE cases SET status = 'assigned', assignee = $2, updated_at = now() "
            f"WHERE id = $1 RETURNING {CASE_COLUMNS}",
            case_id,
            assignee,
        )
    return case_row(row)


async def case_transaction_ids(conn: asyncpg.Connection, case_id: int) -> list[tuple[str, str]]:
    """The (scope, transaction_id) of each transaction of the case, in scoring order."""
    return [
        (r["scope"], r["transaction_id"])
        for r in await conn.fetch(
            "SELECT scope, transaction_id FROM case_transactions WHERE case_id = $1 "
            "ORDER BY scored_at, scope, transaction_id",
            case_id,
        )
    ]


async def close_case(
    conn: asyncpg.Connection, case_id: int, verdict: Verdict, note: str | None, key_id: str
) -> dict[str, Any]:
    """Close a case locked by open_case_for_update (in the same transaction)."""
    row = await conn.fetchrow(
        "UPDATE cases SET status = 'closed', verdict = $2, note = $3, resolved_by = $4, "
        f"resolved_at = now(), updated_at = now() WHERE id = $1 RETURNING {CASE_COLUMNS}",
        case_id,
        verdict,
        note,
        key_id,
    )
    return case_row(row)


async def queue_size(conn: asyncpg.Connection) -> tuple[int, datetime | None]:
    """Cases open or assigned, and when the oldest of them was opened (None: no case)."""
    row = await conn.fetchrow("SELECT count(*), min(opened_at) FROM cases WHERE status <> 'closed'")
    return row[0], row[1]
