"""The rules in PostgreSQL: the current version of each, and every change (who, when,
before, after). Changes are serialised by one advisory lock: they are rare, and each
bumps the rule set's version (the latest change), which the API processes poll."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from controls.ruleset import Rule

LOCK = "rules"
FIELDS = ("description", "condition", "action", "mode", "priority")
COLUMNS = "id, description, condition, action, mode, priority, version, updated_at, updated_by"


@dataclass(frozen=True, slots=True)
class StoredRule:
    rule: Rule
    updated_at: datetime
    updated_by: str | None

    def as_json(self) -> dict[str, Any]:
        r = self.rule
        return {
            "id": r.id,
            "description": r.description,
            "condition": r.condition,
            "action": r.action,
            "mode": r.mode,
            "priority": r.priority,
            "version": r.version,
            "updated_at": self.updated_at,
            "updated_by": self.updated_by,
        }


@dataclass(frozen=True, slots=True)
class Saved:
    rule: StoredRule
    created: bool
    changed: bool  # False: the same content was already the current version


class VersionMismatch(Exception):
    """The rule's current version is not the one the caller based its change on."""


def _stored(row: asyncpg.Record) -> StoredRule:
    rule = Rule(
        id=row["id"],
        description=row["description"],
        condition=row["condition"],
        action=row["action"],
        mode=row["mode"],
        priority=row["priority"],
        version=row["version"],
    )
    return StoredRule(rule, row["updated_at"], row["updated_by"])


def _content(rule: Rule | StoredRule) -> dict[str, Any]:
    r = rule.rule if isinstance(rule, StoredRule) else rule
    return {name: getattr(r, name) for name in FIELDS}


async def _lock(conn: asyncpg.Connection) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1 || current_schema()))", LOCK)


async def save_rule(
    conn: asyncpg.Connection, rule: Rule, key_id: str | None, expected_version: int | None = None
) -> Saved:
    """Create or replace a rule (its condition already compiled by the caller); a new
    version only if something changed. `expected_version`: refuse (VersionMismatch) unless
    the current version is that one (0: the rule must not exist)."""
    async with conn.transaction():
        await _lock(conn)
        row = await conn.fetchrow(f"SELECT {COLUMNS} FROM rules WHERE id = $1", rule.id)
        before = None if row is None else _stored(row)
        current = 0 if before is None else before.rule.version
        if expected_version is not None and expected_version != current:
            raise VersionMismatch(
                f"rule {rule.id!r} is at version {current}, not {expected_version}"
            )
        if before is not None and _content(before) == _content(rule):
            return Saved(before, created=False, changed=False)
        # A re-created rule goes on from its last version, so versions never repeat.
        last = await conn.fetchval(
            "SELECT coalesce(max(version), 0) FROM rule_changes WHERE rule_id = $1", rule.id
        )
        version = last + 1
        saved = await conn.fetchrow(
            f"""
            INSERT INTO rules ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, now(), $8)
            ON CONFLICT (id) DO UPDATE SET description = EXCLUDED.description,
                condition = EXCLUDED.condition, action = EXCLUDED.action,
                mode = EXCLUDED.mode, priority = EXCLUDED.priority,
                version = EXCLUDED.version, updated_at = EXCLUDED.updated_at,
                updated_by = EXCLUDED.updated_by
            RETURNING {COLUMNS}
            """,
            rule.id,
            rule.description,
            rule.condition,
            rule.action,
            rule.mode,
            rule.priority,
            version,
            key_id,
        )
        stored = _stored(saved)
        await _record(conn, rule.id, version, key_id, before, stored)
        return Saved(stored, created=before is None, changed=True)


async def delete_rule(conn: asyncpg.Connection, rule_id: str, key_id: str | None) -> bool:
    """Delete a rule (its changes stay); False if there is no such rule."""
    async with conn.transaction():
        await _lock(conn)
        row = await conn.fetchrow(f"DELETE FROM rules WHERE id = $1 RETURNING {COLUMNS}", rule_id)
        if row is None:
            return False
        before = _stored(row)
        await _record(conn, rule_id, before.rule.version + 1, key_id, before, None)
        return True


async def _record(
    conn: asyncpg.Connection,
    rule_id: str,
    version: int,
    key_id: str | None,
    before: StoredRule | None,
    after: StoredRule | None,
) -> None:
    await conn.execute(
        "INSERT INTO rule_changes (rule_id, version, changed_by, before, after) "
        "VALUES ($1, $2, $3, $4::jsonb, $5::jsonb)",
        rule_id,
        version,
        key_id,
        None if before is None else orjson.dumps(before.as_json()).decode(),
        None if after is None else orjson.dumps(after.as_json()).decode(),
    )


async def rule_set_version(conn: asyncpg.Connection) -> int:
    """The latest change's number (0: no rule was ever written)."""
    version: int = await conn.fetchval("SELECT coalesce(max(change), 0) FROM rule_changes")
    return version


async def rule_count(conn: asyncpg.Connection) -> int:
    count: int = await conn.fetchval("SELECT count(*) FROM rules")
    return count


async def load_rules(conn: asyncpg.Connection) -> tuple[int, list[StoredRule]]:
    """The rule set's version and its rules (priority order), read in one snapshot."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        version = await rule_set_version(conn)
        rows = await conn.fetch(f"SELECT {COLUMNS} FROM rules ORDER BY priority, id")
    return version, [_stored(r) for r in rows]


async def get_rule(conn: asyncpg.Connection, rule_id: str) -> StoredRule | None:
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM rules WHERE id = $1", rule_id)
    return None if row is None else _stored(row)


async def rule_changes(conn: asyncpg.Connection, rule_id: str) -> list[dict[str, Any]]:
    """Every change of one rule, the latest first."""
    rows = await conn.fetch(
        "SELECT change, version, changed_at, changed_by, before::text AS before, "
        "after::text AS after FROM rule_changes WHERE rule_id = $1 ORDER BY change DESC",
        rule_id,
    )
    return [
        {
            "change": r["change"],
            "version": r["version"],
            "changed_at": r["changed_at"],
            "changed_by": r["changed_by"],
            "before": None if r["before"] is None else orjson.Fragment(r["before"]),
            "after": None if r["after"] is None else orjson.Fragment(r["after"]),
        }
        for r in rows
    ]


# Every rule that matched a stored decision of [since, until), by the mode it had then.
# The predicate on `rules` is the partial index's (migration 008): only decisions where a
# rule matched are read.
RULE_HITS = """
SELECT hit->>'id' AS rule_id, hit->>'mode' AS mode, count(*) AS count
FROM decisions, jsonb_array_elements(response->'rules') AS hit
WHERE scored_at >= $1 AND scored_at < $2 AND response->'rules' <> '[]'::jsonb
GROUP BY 1, 2
ORDER BY 3 DESC, 1, 2
"""


async def rule_hits(
    conn: asyncpg.Connection, since: datetime, until: datetime
) -> list[dict[str, Any]]:
    """How often each rule matched (active and shadow apart) in decisions scored in [since,
    until), every process's: counted from the stored answers, not a process's counters."""
    rows = await conn.fetch(RULE_HITS, since, until)
    return [{"rule_id": r["rule_id"], "mode": r["mode"], "count": r["count"]} for r in rows]
