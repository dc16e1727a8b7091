"""Write decoded audit events to PostgreSQL: one transaction per batch, COPY into a
staging table, then an idempotent insert on (scope, transaction_id).

A transaction id is unique only within its scope (the scoring key's id). An event whose
(scope, transaction_id) is stored already is a re-delivery when its request is the same
(nothing is written) and a conflict when it is not: that event goes to dead_letters with
its reason, so nothing answered is dropped silently."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import asyncpg
import orjson

from persistence.alerts import AlertPolicy, candidates, deduplicate
from persistence.cases import REVIEW_ONLY, CasePolicy, open_cases
from persistence.message_format import SCHEMA
from vocabulary import DECISIONS, RULE_MODES, TIERS

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
    "decision_source",
    "scope",
    "challenger_model_version",
    "challenger_score",
    "challenger_risk_tier",
    "challenger_decision",
)
SCOPE_COLUMN = COLUMNS.index("scope")


class BadEvent(ValueError):
    """A message that is not a valid audit event."""


class UnplacedConflicts(RuntimeError):
    """Events that conflict with stored ones, written without their Kafka positions: they
    cannot be dead-lettered, and are never dropped silently."""


# A dead letter's error is text for people: bounded, and without the NUL PostgreSQL refuses.
MAX_ERROR_CHARS = 2_000


@dataclass(frozen=True, slots=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    error: str

    def refused(self, error: str) -> DeadLetter:
        text = error.replace("\x00", "\\x00")[:MAX_ERROR_CHARS]
        return DeadLetter(self.topic, self.partition, self.offset, self.key, self.value, text)


# What a row's values may be, so that nothing later (the COPY, the indexes, the alert
# sinks, the history API) fails on a message the decoder let through.
MAX_TEXT = 256  # ids and codes: the API's are at most 128 characters; indexes hold far more
# Scoring times whose day and the next are representable: the partitions are made from them.
EARLIEST = datetime.min.replace(tzinfo=UTC) + timedelta(days=1)
LATEST = datetime.max.replace(tzinfo=UTC) - timedelta(days=2)


def decode(value: bytes | None) -> tuple[Any, ...]:
    """An audit event as a decisions row; BadEvent if it is not one. Whatever the bytes,
    only BadEvent is raised: a message that cannot be converted is dead-lettered, never
    allowed to stop the consumer."""
    try:
        return _decode(value)
    except BadEvent:
        raise
    except Exception as exc:  # any conversion error: this message is refused, not the batch
        raise BadEvent(f"{type(exc).__name__}: {exc}") from exc


def _decode(value: bytes | None) -> tuple[Any, ...]:
    if value is None:
        raise BadEvent("no value (a tombstone)")
    event = orjson.loads(value)
    if not isinstance(event, dict):
        raise BadEvent(f"a JSON {JSON_TYPES.get(type(event), 'value')}, not an object")
    schema = event.get("schema")
    if type(schema) is not int or schema != SCHEMA:
        raise BadEvent(f"schema {schema!r}, expected {SCHEMA}")
    request, response = event.get("request"), event.get("decision")
    if not isinstance(request, dict) or not isinstance(response, dict):
        raise BadEvent("`request` and `decision` must be objects")
    if b"\\u0000" in value:  # cheap test first: JSON writes a NUL as \u0000
        _refuse_nul(event, "")
    transaction_id = _text(request, "transaction_id")
    if _text(response, "transaction_id") != transaction_id:
        raise BadEvent("request and decision name different transactions")
    reasons = response.get("reasons", [])
    if not isinstance(reasons, list) or not all(
        isinstance(r, dict)
        and isinstance(r.get("feature"), str)
        and _number_or_none(r.get("value"))
        and _number_or_none(r.get("contribution"))
        for r in reasons
    ):
        raise BadEvent("decision.reasons must be a list of {feature, value, contribution}")
    risk_tier, decision = _text(response, "risk_tier"), _text(response, "decision")
    if risk_tier not in TIERS or decision not in DECISIONS:
        raise BadEvent(f"unknown risk tier or decision: {risk_tier!r}, {decision!r}")
    degraded = response.get("degraded")
    if not isinstance(degraded, bool):
        raise BadEvent(f"decision.degraded must be true or false, not {degraded!r}")
    latency = response.get("latency_ms")
    source = _decision_source(response)
    scope = event.get("scope", "")  # events from before scopes: the empty scope
    if not isinstance(scope, str) or SCOPE.fullmatch(scope) is None:
        raise BadEvent(f"scope must be 0 to 64 of [A-Za-z0-9_.:-], not {scope!r:.80}")
    return (
        transaction_id,
        _time(event, "scored_at", partitioned=True),
        _time(request, "timestamp"),
        _text(request, "card_id"),
        _text(request, "account_id", optional=True),
        _text(request, "merchant_id"),
        _number(request, "amount"),
        _text(request, "currency"),
        _text(request, "channel"),
        _number(response, "score"),
        risk_tier,
        decision,
        _text(response, "model_version"),
        degraded,
        None if latency is None else _number(response, "latency_ms"),
        orjson.dumps(request).decode(),
        orjson.dumps(response).decode(),
        source,
        scope,
        *_challenger(event),
    )


NO_CHALLENGER = (None, None, None, None)


def _challenger(event: dict[str, Any]) -> tuple[Any, ...]:
    """The challenger's model version, score, tier and decision; all None where the event
    has none (no challenger was loaded, or an event from before challengers)."""
    shadow = event.get("challenger")
    if shadow is None:
        return NO_CHALLENGER
    if not isinstance(shadow, dict):
        raise BadEvent("challenger must be null or {decision, model_version, risk_tier, score}")
    tier, decision = _text(shadow, "risk_tier"), _text(shadow, "decision")
    if tier not in TIERS or decision not in DECISIONS:
        raise BadEvent(f"unknown challenger risk tier or decision: {tier!r}, {decision!r}")
    return _text(shadow, "model_version"), _number(shadow, "score"), tier, decision


# What decided: "model", "rule:<id>" or "list:<id>" (ids as the API's rule and list ids).
SOURCE = re.compile(r"^(model|rule:[A-Za-z0-9_.-]{1,64}|list:[A-Za-z0-9_.-]{1,64})$")
MODES = frozenset(RULE_MODES)
# The API writes key ids (16 hex digits); the empty scope holds events from before scopes.
SCOPE = re.compile(r"^[A-Za-z0-9_.:-]{0,64}$")


def _decision_source(response: dict[str, Any]) -> str:
    """The decision's source, with its rules and list entry checked; an event from before
    the decision layer has none of them (the model decided)."""
    source = response.get("decision_source", "model")
    if not isinstance(source, str) or SOURCE.fullmatch(source) is None:
        raise BadEvent(
            f"decision.decision_source is not model, rule:<id> or list:<id>: {source!r:.80}"
        )
    rules = response.get("rules", [])
    if not isinstance(rules, list) or not all(
        isinstance(r, dict)
        and all(isinstance(r.get(k), str) and 0 < len(r[k]) <= MAX_TEXT for k in ("id", "action"))
        and r.get("mode") in MODES
        for r in rules
    ):
        raise BadEvent("decision.rules must be a list of {id, action, mode}")
    hit = response.get("list")
    if hit is not None and not (
        isinstance(hit, dict)
        and all(
            isinstance(hit.get(k), str) and 0 < len(hit[k]) <= MAX_TEXT
            for k in ("id", "entity", "action")
        )
    ):
        raise BadEvent("decision.list must be null or {id, entity, action}")
    return source


JSON_TYPES = {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}
JSON_TYPES[type(None)] = "null"


def _text(obj: dict[str, Any], name: str, optional: bool = False) -> Any:
    value = obj.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= MAX_TEXT:
        raise BadEvent(f"{name} must be text of 1 to {MAX_TEXT} characters, not {value!r:.80}")
    return value


def _number(obj: dict[str, Any], name: str) -> float:
    value = obj.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not _finite(value):
        raise BadEvent(f"{name} must be a finite number, not {value!r:.80}")
    return float(value)


def _number_or_none(value: object) -> bool:
    return value is None or (
        isinstance(value, int | float) and not isinstance(value, bool) and _finite(value)
    )


def _finite(value: float) -> bool:
    return bool(math.isfinite(float(value)))  # a huge integer: OverflowError, caught above


def _time(obj: dict[str, Any], name: str, partitioned: bool = False) -> datetime:
    """An RFC 3339 time with an offset, as UTC (for the partition key, within the years a
    partition can be made for)."""
    value = obj.get(name)
    if not isinstance(value, str):
        raise BadEvent(f"{name} must be an RFC 3339 string, not {value!r:.80}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadEvent(f"{name} is not an RFC 3339 time: {value!r:.80}") from None
    if moment.tzinfo is None:
        raise BadEvent(f"{name} has no UTC offset: {value!r:.80}")
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        raise BadEvent(f"{name} is outside years 1 to 9999 in UTC: {value!r:.80}") from None
    if partitioned and not EARLIEST <= utc <= LATEST:
        raise BadEvent(f"{name} is outside the years the history can hold: {value!r:.80}")
    return utc


def _refuse_nul(value: object, where: str) -> None:
    """PostgreSQL's text and jsonb cannot hold a NUL character, in a value or in a key."""
    if isinstance(value, str):
        if "\x00" in value:
            raise BadEvent(f"a NUL character (0x00) in {where or 'the event'}")
    elif isinstance(value, dict):
        for k, v in value.items():
            _refuse_nul(k, where)
            _refuse_nul(v, f"{where}.{k}" if where else str(k))
    elif isinstance(value, list):
        for item in value:
            _refuse_nul(item, where)


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


# What the insert returns of each new decision: enough for the review cases (the alerts
# also read request and response).
RETURNED = "scope, transaction_id, card_id, scored_at, event_time, amount, risk_tier, decision"

# New (scope, transaction_id) pairs claim their id, then insert their decision: a pair
# stored already (a re-delivery, or a conflict: see CONFLICTS) inserts nothing.
INSERT_NEW = """
WITH fresh AS (
    INSERT INTO decision_ids (scope, transaction_id, scored_at)
    SELECT DISTINCT ON (scope, transaction_id) scope, transaction_id, scored_at FROM staging
    ORDER BY scope, transaction_id, scored_at
    ON CONFLICT DO NOTHING
    RETURNING scope, transaction_id, scored_at
)
INSERT INTO decisions
SELECT DISTINCT ON (scope, transaction_id) s.* FROM staging s
JOIN fresh USING (scope, transaction_id, scored_at)
ORDER BY scope, transaction_id
RETURNING {returned}
"""

# The batch's events whose (scope, transaction_id) is stored (now, by this batch, or before)
# for another request: not the same transaction delivered again, but another one under an
# id its key already used (a Redis that lost its idempotency keys lets one through).
CONFLICTS = """
SELECT s.scope, s.transaction_id, s.scored_at, d.scored_at AS stored_scored_at
FROM staging s
JOIN decision_ids i USING (scope, transaction_id)
JOIN decisions d
  ON d.scope = i.scope AND d.transaction_id = i.transaction_id AND d.scored_at = i.scored_at
WHERE d.request <> s.request
"""


async def write_batch(
    conn: asyncpg.Connection,
    rows: list[tuple[Any, ...]],
    dead: list[DeadLetter],
    alerts: AlertPolicy | None = None,
    cases: CasePolicy = REVIEW_ONLY,
    sources: Sequence[DeadLetter] | None = None,
) -> int:
    """Insert new decisions, their alerts (outbox), the review cases they open or join, and
    dead letters in one transaction; returns the decisions inserted. Re-delivered decisions
    insert nothing, alert nobody and join no case. `sources` are the rows' messages: a row
    that conflicts with a stored decision (same scope and id, another request) is
    dead-lettered as its message; without `sources`, UnplacedConflicts rolls back."""
    async with conn.transaction():
        inserted: list[asyncpg.Record] = []
        refused = list(dead)
        for day in sorted({row[1].astimezone(UTC).date() for row in rows}):
            await ensure_partition(conn, day)
        if rows:
            await conn.execute(
                "CREATE TEMP TABLE IF NOT EXISTS staging (LIKE decisions INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
            )
            await conn.copy_records_to_table("staging", records=rows, columns=COLUMNS)
            policy = alerts if alerts is not None and alerts.sinks else None
            inserted = await conn.fetch(
                INSERT_NEW.format(
                    returned=RETURNED + (", request::text, response::text" if policy else "")
                )
            )
            refused += _conflicts(rows, sources, await conn.fetch(CONFLICTS))
            if policy is not None:
                await _queue_alerts(conn, inserted, policy)
            await open_cases(conn, inserted, cases)
        if refused:
            await conn.executemany(
                'INSERT INTO dead_letters (topic, partition, "offset", key, value, error) VALUES ($1, $2, $3, $4, $5, $6)'
                ' ON CONFLICT (topic, partition, "offset") DO NOTHING',
                [(d.topic, d.partition, d.offset, d.key, d.value, d.error) for d in refused],
            )
        return len(inserted)


def _conflicts(
    rows: list[tuple[Any, ...]],
    sources: Sequence[DeadLetter] | None,
    found: list[asyncpg.Record],
) -> list[DeadLetter]:
    """The dead letters of the rows CONFLICTS found."""
    if not found:
        return []
    if sources is None:
        raise UnplacedConflicts(
            f"{len(found)} events conflict with stored decisions and have no Kafka position"
        )
    stored = {(r["scope"], r["transaction_id"], r["scored_at"]): r for r in found}
    out = []
    for row, source in zip(rows, sources, strict=True):
        hit = stored.get((row[SCOPE_COLUMN], row[0], row[1]))
        if hit is not None:
            out.append(
                source.refused(
                    f"transaction_id {row[0]!r} of scope {row[SCOPE_COLUMN]!r} is stored "
                    f"already (scored at {hit['stored_scored_at'].isoformat()}) for another "
                    "request: this event is another transaction under a used id"
                )
            )
    return out


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
        "INSERT INTO alerts (scope, transaction_id, sink, card_id, scored_at, payload, status) "
        "VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7) ON CONFLICT DO NOTHING",
        [
            (
                c.scope,
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
