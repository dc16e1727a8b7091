"""POST /v1/rules/backtest's runner: each backtest in a child process
(persistence.backtest_job) at a lower CPU priority, at most FRAUD_BACKTEST_CONCURRENCY at
once per API process, killed (by its PID) past FRAUD_BACKTEST_TIMEOUT_S. Scoring never
waits for one: the event loop only waits on the child's pipes."""

from __future__ import annotations

import asyncio
import logging
import sys
from contextlib import suppress
from datetime import datetime
from typing import Any

import orjson

from app.errors import ServiceUnavailable, TimedOut, TooManyRequests, ValidationFailed
from app.settings import Settings

JOB = "persistence.backtest_job"
log = logging.getLogger(__name__)


class Backtests:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._running = 0

    async def run(self, condition: str, action: str, since: datetime, until: datetime) -> Any:
        settings = self.settings
        if self._running >= settings.backtest_concurrency:
            raise TooManyRequests(
                f"{self._running} backtest(s) already running in this process "
                "(FRAUD_BACKTEST_CONCURRENCY); retry when it ends",
                max(1, round(settings.backtest_timeout_s / 4)),
            )
        job = {
            "database_url": settings.database_url,
            "schema": settings.database_schema,
            "condition": condition,
            "action": action,
            "since": since.isoformat(),
            "until": until.isoformat(),
            "decisions": settings.decision_map,
            "max_rows": settings.backtest_max_rows,
            "statement_timeout_ms": settings.backtest_timeout_s * 1000,
        }
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
        if status not in (0, 2, 3, 4):  # not an answer: the child failed (a bug, or killed)
            log.error(
                "backtest child exited with %s: %s", status, err.decode(errors="replace")[-4000:]
            )
            raise RuntimeError(f"the backtest process exited with status {status}")
        answer = orjson.loads(out)
        if status == 0:
            return answer
        if status == 2:
            raise ValidationFailed(
                [{"field": "body", "message": answer["message"], "type": "backtest"}]
            )
        if status == 4:
            raise TimedOut(f"a backtest query ran past the time bound: {answer['message']}")
        raise ServiceUnavailable(f"backtest failed: {answer['message']}")

    async def _child(self, job: bytes, timeout_s: float) -> tuple[int, bytes, bytes]:
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            JOB,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
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
