"""POST /v1/rules/backtest's runner: each backtest in a child process
(persistence.backtest_job) at a lower CPU priority, within FRAUD_BACKTEST_MAX_MEMORY_MB of
address space, at most FRAUD_BACKTEST_CONCURRENCY at once over every API process of the
database (and so in this one), killed (by its PID) past FRAUD_BACKTEST_TIMEOUT_S. Scoring
never waits for one: the event loop only waits on the child's pipes. Whatever the child
does, the answer is a report or an error in the envelope."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from contextlib import suppress
from datetime import datetime
from typing import Any

import orjson

from app.errors import ServiceUnavailable, TimedOut, TooManyRequests, ValidationFailed
from app.settings import Settings

JOB = "persistence.backtest_job"
log = logging.getLogger(__name__)


def job_for(
    settings: Settings, condition: str, action: str, since: datetime, until: datetime
) -> dict[str, Any]:
    """What the child is told (persistence.backtest_job reads it on stdin)."""
    return {
        "database_url": settings.database_url,
        "schema": settings.database_schema,
        "condition": condition,
        "action": action,
        "since": since.isoformat(),
        "until": until.isoformat(),
        "decisions": settings.decision_map,
        "max_rows": settings.backtest_max_rows,
        "statement_timeout_ms": settings.backtest_timeout_s * 1000,
        "max_memory_mb": settings.backtest_max_memory_mb,
        "concurrency": settings.backtest_concurrency,
    }


# The child's address space is bounded, so what it reserves without using counts: its
# numeric libraries run one thread each (it is a background job at low priority, and each
# thread reserves space of its own), and Arrow (pandas' strings) allocates with malloc:
# its default pool, mimalloc, reserves 1 GiB at its first allocation.
CHILD_ENVIRONMENT = {
    name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
} | {"ARROW_DEFAULT_MEMORY_POOL": "system"}


class Backtests:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._running = 0

    async def run(self, condition: str, action: str, since: datetime, until: datetime) -> Any:
        settings = self.settings
        if self._running >= settings.backtest_concurrency:
            raise TooManyRequests(
                f"{self._running} backtest(s) already running in this process "
                "(FRAUD_BACKTEST_CONCURRENCY); retry when one ends",
                max(1, round(settings.backtest_timeout_s / 4)),
            )
        job = job_for(settings, condition, action, since, until)
        self._running += 1
        try:
            status, out, err = await self._child(orjson.dumps(job), settings.backtest_timeout_s)
        except TimeoutError:
            raise TimedOut(
                f"the backtest ran past FRAUD_BACKTEST_TIMEOUT_S "
                f"({settings.backtest_timeout_s:g} s) and was stopped; choose a shorter period"
            ) from None
        finally:
            self._running -= 1
        if status not in (0, 2, 3, 4, 5, 6):  # not an answer: the child failed (a bug, killed)
            log.error(
                "backtest child exited with %s: %s", status, err.decode(errors="replace")[-4000:]
            )
            raise ServiceUnavailable(
                f"the backtest process failed (exit status {status}); the server's log has why"
            )
        answer = orjson.loads(out)
        if status == 0:
            return answer
        if status in (2, 5):
            field = answer.get("field", "body")
            raise ValidationFailed(
                [{"field": field, "message": answer["message"], "type": "backtest"}]
            )
        if status == 4:
            raise TimedOut(f"a backtest query ran past the time bound: {answer['message']}")
        if status == 6:
            raise TooManyRequests(answer["message"], max(1, round(settings.backtest_timeout_s / 4)))
        raise ServiceUnavailable(f"backtest failed: {answer['message']}")

    async def _child(self, job: bytes, timeout_s: float) -> tuple[int, bytes, bytes]:
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            JOB,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=os.environ | CHILD_ENVIRONMENT,
        )
        try:
            async with asyncio.timeout(timeout_s):
                out, err = await child.communicate(job)
        except BaseException:  # the time bound, or the request cancelled: stop the child
            with suppress(ProcessLookupError):
                child.kill()
            await child.wait()
            raise
        return child.returncode or 0, out, err
