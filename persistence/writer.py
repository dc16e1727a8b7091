"""Write decoded audit events to PostgreSQL: one transaction per batch, COPY into a
staging table, then an idempotent insert on transaction_id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import asyncpg
import orjson

from persistence.alerts import AlertPolicy, candidates, deduplicate
from persistence.message_format import SCHEMA

COLUMNS = (
    "transaction_id",
    "scored_at",
    "event_time",
    "card_id",
    "account_id",
    "merchant_id",
    "amount",
    "currency",
    "channel",
    "score",
    "risk_tier",
    "decision",
    "model_version",
    "degraded",
    "latency_ms",
    "request",
    "response",
)


class BadEvent(ValueError):
    """A message that is not a valid audit event."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    error: str

    def refused(self, error: str) -> DeadLetter:
        return DeadLetter(self.topic, self.partition, self.offset, self.key, self.value, error)


def decode(value: bytes) -> tuple[Any, ...]:
    """An audit event as a decisions row; BadEvent if it is not one."""
    try:
        event = orjson.loads(value)
        if event.get("schema") != SCHEMA:
            raise BadEvent(f"schema {event.get('schema')!r}, expected {SCHEMA}")
        request, response = event["request"], event["decision"]
        if request["transaction_id"] != response["transaction_id"]:
            raise BadEvent("request and decision name different transactions")
        return (
            request["transaction_id"],
            datetime.fromisoformat(event["scored_at"]),
            datetime.fromisoformat(request["timestamp"]),
            request["card_id"],
            request.get("account_id"),
            request["merchant_id"],
            float(request["amount"]),
            request["currency"],
            request["channel"],
            float(response["score"]),
            response["risk_tier"],
            response["decision"],
            response["model_version"],
            bool(response["degraded"]),
            response.get("latency_ms"),
            orjson.dumps(request).decode(),
            orjson.dumps(response).decode(),
        )
    except BadEvent:
        raise
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BadEvent(f"{type(exc).__name__}: {exc}") from exc


def partition_ddl(day: date) -> str:
    """The day's partition of decisions (UTC days)."""
    start = datetime.combine(day, time(), UTC)
    end = start + timedelta(days=1)
    return (
        f"CREATE TABLE IF NOT EXISTS decisions_{day:%Y%m%d} PARTITION OF decisions "
        f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
    )


async def ensure_partition(conn: asyncpg.Connection, day: date) -> None:
    """The day's partition, created by one writer only: concurrent `CREATE TABLE IF NOT
    EXISTS` of one table fails in all but one transaction (DuplicateTableError), so the
    consumers of one group take a lock for the day (and schema) first. Only a missing partition costs
    the lock (held to the end of that batch's transaction); later batches only look."""
    name = f"decisions_{day:%Y%m%d}"
    if await conn.fetchval("SELECT to_regclass($1)", name) is not None:
        return
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtext('partition:' || current_schema()), $1)",
        day.toordinal(),
    )
    await conn.execute(partition_ddl(day))


async def write_batch(
    conn: asyncpg.Connection,
    rows: list[tuple[Any, ...]],
    dead: list[DeadLetter],
    alerts: AlertPolicy | None = None,
) -> int:
    """Insert new decisions, their alerts (outbox) and dead letters in one transaction;
    returns the decisions inserted. Re-delivered decisions insert nothing and alert nobody."""
    async with conn.transaction():
        inserted: list[asyncpg.Record] = []
        for day in sorted({row[1].astimezone(UTC).date() for row in rows}):
            await ensure_partition(conn, day)
        if rows:
            await conn.execute(
                "CREATE TEMP TABLE IF NOT EXISTS staging (LIKE decisions INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
            )
            await conn.copy_records_to_table("staging", records=rows, columns=COLUMNS)
            policy = alerts if alerts is not None and alerts.sinks else None
            inserted = await conn.fetch(
                f"""
                WITH fresh AS (
                    INSERT INTO decision_ids (transaction_id, scored_at)
                    SELECT DISTINCT ON (transaction_id) transaction_id, scored_at FROM staging
                    ORDER BY transaction_id, scored_at
                    ON CONFLICT DO NOTHING
                    RETURNING transaction_id, scored_at
                )
                INSERT INTO decisions
                SELECT DISTINCT ON (transaction_id) s.* FROM staging s
                JOIN fresh USING (transaction_id, scored_at)
                ORDER BY transaction_id
                RETURNING {"transaction_id, card_id, scored_at, risk_tier, request::text, response::text" if policy else "transaction_id"}
                """
            )
            if policy is not None:
                await _queue_alerts(conn, inserted, policy)
        if dead:
            await conn.executemany(
                'INSERT INTO dead_letters (topic, partition, "offset", key, value, error) VALUES ($1, $2, $3, $4, $5, $6)'
                ' ON CONFLICT (topic, partition, "offset") DO NOTHING',
                [(d.topic, d.partition, d.offset, d.key, d.value, d.error) for d in dead],
            )
        return len(inserted)


async def _queue_alerts(
    conn: asyncpg.Connection, inserted: list[asyncpg.Record], policy: AlertPolicy
) -> None:
    found = candidates(inserted, policy)
    if not found:
        return
    last = await conn.fetch(
        "SELECT card_id, max(scored_at) AS at FROM alerts "
        "WHERE card_id = ANY($1) AND status <> 'suppressed' GROUP BY card_id",
        list({c.card_id for c in found}),
    )
    planned = deduplicate(found, {r["card_id"]: r["at"] for r in last}, policy.dedup_s)
    await conn.executemany(
        "INSERT INTO alerts (transaction_id, sink, card_id, scored_at, payload, status) "
        "VALUES ($1, $2, $3, $4, $5::jsonb, $6) ON CONFLICT DO NOTHING",
        [
            (
                c.transaction_id,
                sink,
                c.card_id,
                c.scored_at,
                orjson.dumps(c.payload).decode(),
                status,
            )
            for c, status in planned
            for sink in policy.sinks
        ],
    )
