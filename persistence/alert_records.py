"""Reading the alert outbox (persistence/alerts.py decides, the dispatcher delivers): pages
newest first by (created_at, scope, transaction_id, sink); the cursor is that key."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson

ALERT_STATUSES = ("pending", "sent", "failed", "suppressed")
# What an alert row says of itself, and of its decision from the payload the sinks got.
ALERT_COLUMNS = """
scope, transaction_id, sink, card_id, scored_at, payload->>'risk_tier' AS risk_tier,
(payload->>'score')::double precision AS score, payload->>'decision' AS decision, status,
attempts, last_error, created_at, sent_at
"""
FIELDS = (
    "scope",
    "transaction_id",
    "sink",
    "card_id",
    "scored_at",
    "risk_tier",
    "score",
    "decision",
    "status",
    "attempts",
    "last_error",
    "created_at",
    "sent_at",
)
Key = tuple[datetime, str, str, str]  # created_at, scope, transaction_id, sink


class BadAlertCursor(ValueError):
    """A cursor this API did not issue."""


def encode_alert_cursor(key: Key) -> str:
    at, scope, transaction_id, sink = key
    raw = orjson.dumps(["alert", at.isoformat(), scope, transaction_id, sink])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_alert_cursor(cursor: str) -> Key:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        tag, text, scope, transaction_id, sink = orjson.loads(raw)
        at = datetime.fromisoformat(text)
        if at.tzinfo is None:
            raise ValueError("naive time")
        at.astimezone(UTC)  # OverflowError outside years 1-9999 in UTC
    except (binascii.Error, orjson.JSONDecodeError, TypeError, ValueError, OverflowError) as exc:
        raise BadAlertCursor("cursor is not one returned by this API") from exc
    if tag != "alert" or not all(isinstance(v, str) for v in (scope, transaction_id, sink)):
        raise BadAlertCursor("cursor is not one returned by this API")
    return at, scope, transaction_id, sink


@dataclass(frozen=True, slots=True)
class AlertFilter:
    status: str | None = None
    sink: str | None = None
    before: Key | None = None  # the previous page's last alert
    limit: int = 50

    def sql(self) -> tuple[str, list[Any]]:
        args: list[Any] = []
        clauses = []
        for column, value in (("status", self.status), ("sink", self.sink)):
            if value is not None:
                args.append(value)
                clauses.append(f"{column} = ${len(args)}")
        if self.before is not None:
            args += list(self.before)
            clauses.append(
                f"(created_at, scope, transaction_id, sink) < (${len(args) - 3}, "
                f"${len(args) - 2}, ${len(args) - 1}, ${len(args)})"
            )
        args.append(self.limit + 1)  # one more tells whether there is a next page
        return (
            f"SELECT {ALERT_COLUMNS} FROM alerts WHERE {' AND '.join(clauses) or 'true'} "
            f"ORDER BY created_at DESC, scope DESC, transaction_id DESC, sink DESC "
            f"LIMIT ${len(args)}",
            args,
        )


async def list_alerts(
    conn: asyncpg.Connection, where: AlertFilter
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of alerts, newest first, and the cursor of the next page (None on the last)."""
    query, args = where.sql()
    rows = await conn.fetch(query, *args)
    page = [{f: r[f] for f in FIELDS} for r in rows[: where.limit]]
    if len(rows) <= where.limit:
        return page, None
    last = page[-1]
    return page, encode_alert_cursor(
        (last["created_at"], last["scope"], last["transaction_id"], last["sink"])
    )
