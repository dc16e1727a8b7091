"""One stored-history backtest in a process of its own (`python -m persistence.backtest_job`),
so that however long it reads and computes, the API process that asked keeps scoring:
the request as JSON on stdin, the report as JSON on stdout. It runs at a lower CPU
priority, every query bounded by a statement timeout, read-only, within an address space
of `max_memory_mb` (an allocation past it fails: the backtest answers that it needs more,
and nothing else on the machine pays for it), and only while it holds one of
`concurrency` slots shared by every API process of the database (a PostgreSQL advisory
lock, released with its connection, however the process ends).

Exit status: 0 and the report; 2 and {"error", "message", "field"} for a backtest that
cannot run on these rows (a period too large, until before since, a bad rule, a condition
that raises on these rows); 3 for PostgreSQL unreachable; 4 when a query ran past the
statement timeout; 5 when it needed more memory than `max_memory_mb`; 6 when every slot is
taken. Anything else is a failure of the child itself (its traceback on stderr)."""

from __future__ import annotations

import asyncio
import os
import resource
import sys
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from controls.backtest import BacktestError, ConditionFailed
from controls.expression import ExpressionError
from controls.ruleset import RuleError
from persistence.backtest import backtest_stored
from persistence.database import UNAVAILABLE

NICENESS = 10
# The advisory lock's first key (hashed with the schema); its second key is the slot.
SLOTS = "backtests"
MIB = 1 << 20


class NoSlot(Exception):
    """Every backtest slot of the database is taken."""


async def run(job: dict[str, Any]) -> dict[str, Any]:
    conn = await asyncpg.connect(
        job["database_url"],
        timeout=5,
        server_settings={
            "search_path": job["schema"],
            "statement_timeout": str(int(job["statement_timeout_ms"])),
            "default_transaction_read_only": "on",
        },
    )
    try:
        await take_slot(conn, int(job.get("concurrency", 1)))
        report = await backtest_stored(
            conn,
            job["condition"],
            job["action"],
            datetime.fromisoformat(job["since"]),
            datetime.fromisoformat(job["until"]),
            job["decisions"],
            job["max_rows"],
        )
    finally:
        await conn.close()
    return report.as_json()


async def take_slot(conn: asyncpg.Connection, slots: int) -> None:
    """One of `slots` session-level advisory locks, held until the connection closes."""
    for slot in range(slots):
        if await conn.fetchval(
            "SELECT pg_try_advisory_lock(hashtext($1 || current_schema()), $2)", SLOTS, slot
        ):
            return
    raise NoSlot(
        f"{slots} backtest(s) already running over every API process "
        "(FRAUD_BACKTEST_CONCURRENCY); retry when one ends"
    )


def limit_memory(megabytes: int) -> None:
    limit = megabytes * MIB
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def answer(error: str, message: str, field: str = "body") -> None:
    sys.stdout.buffer.write(orjson.dumps({"error": error, "message": message, "field": field}))


def main() -> int:
    os.nice(NICENESS)
    job = orjson.loads(sys.stdin.buffer.read())
    if job.get("max_memory_mb"):
        limit_memory(int(job["max_memory_mb"]))
    try:
        report = asyncio.run(run(job))
    except MemoryError:
        answer(
            "memory",
            f"the backtest needs more than FRAUD_BACKTEST_MAX_MEMORY_MB "
            f"({job['max_memory_mb']:,} MB) for this period: choose a shorter one",
        )
        return 5
    except NoSlot as exc:
        answer("busy", str(exc))
        return 6
    except (ConditionFailed, ExpressionError, RuleError) as exc:
        answer(type(exc).__name__, str(exc), getattr(exc, "field", "condition"))
        return 2
    except BacktestError as exc:
        answer(type(exc).__name__, str(exc))
        return 2
    except asyncpg.QueryCanceledError as exc:  # the statement timeout
        answer("timeout", str(exc))
        return 4
    except (*UNAVAILABLE, asyncpg.PostgresError) as exc:
        answer("unavailable", repr(exc))
        return 3
    sys.stdout.buffer.write(orjson.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
