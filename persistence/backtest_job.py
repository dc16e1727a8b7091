"""One stored-history backtest in a process of its own (`python -m persistence.backtest_job`),
so that however long it reads and computes, the API process that asked keeps scoring:
the request as JSON on stdin, the report as JSON on stdout. It runs at a lower CPU
priority, every query bounded by a statement timeout, read-only.

Exit status: 0 and the report; 2 and {"error", "message"} for a backtest that cannot run
on these rows (a period too large, until before since, a bad rule); 3 for PostgreSQL
unreachable; 4 when a query ran past the statement timeout."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from controls.backtest import BacktestError
from controls.expression import ExpressionError
from controls.ruleset import RuleError
from persistence.backtest import backtest_stored
from persistence.database import UNAVAILABLE

NICENESS = 10


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


def main() -> int:
    os.nice(NICENESS)
    job = orjson.loads(sys.stdin.buffer.read())
    try:
        report = asyncio.run(run(job))
    except (BacktestError, ExpressionError, RuleError) as exc:
        sys.stdout.buffer.write(orjson.dumps({"error": type(exc).__name__, "message": str(exc)}))
        return 2
    except asyncpg.QueryCanceledError as exc:  # the statement timeout
        sys.stdout.buffer.write(orjson.dumps({"error": "timeout", "message": str(exc)}))
        return 4
    except (*UNAVAILABLE, asyncpg.PostgresError) as exc:
        sys.stdout.buffer.write(orjson.dumps({"error": "unavailable", "message": repr(exc)}))
        return 3
    sys.stdout.buffer.write(orjson.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
