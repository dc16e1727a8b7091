"""The demo's one live line: what the replayed traffic got in the last second and how
many decisions are stored so far, refreshed every second in place on a terminal (a
plain line every few seconds elsewhere), and the summary printed at exit."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass

import numpy as np
from rich.console import Console
from rich.live import Live
from rich.text import Text

from cli.traffic import ReplayReport

TIERS = ("low", "medium", "high", "critical")


@dataclass(slots=True)
class Snapshot:
    """What the line shows at one moment."""

    rate: float
    p50_ms: float
    p99_ms: float
    tiers: Counter[str]
    answered: int
    degraded: int
    errors: int
    stored: int | None


def snapshot(report: ReplayReport, since: int, seconds: float, stored: int | None) -> Snapshot:
    """From the replay's report: latencies and rate of the answers after index `since`,
    totals over the whole run."""
    recent = report.latencies_ms[since:]
    p50, p99 = (
        (float(np.percentile(recent, 50)), float(np.percentile(recent, 99))) if recent else (0, 0)
    )
    return Snapshot(
        rate=len(recent) / seconds if seconds > 0 else 0.0,
        p50_ms=p50,
        p99_ms=p99,
        tiers=report.tiers,
        answered=report.statuses.get(200, 0),
        degraded=report.degraded,
        errors=sum(report.errors.values())
        + sum(n for status, n in report.statuses.items() if status != 200),
        stored=stored,
    )


def render(s: Snapshot) -> str:
    tiers = " ".join(f"{t} {s.tiers.get(t, 0):,}" for t in TIERS)
    return (
        f"{s.rate:6.1f} req/s  p50 {s.p50_ms:5.1f} ms  p99 {s.p99_ms:5.1f} ms  |  {tiers}  |"
        f"  degraded {s.degraded:,}  errors {s.errors:,}  |  answered {s.answered:,}"
        f"  stored {'?' if s.stored is None else f'{s.stored:,}'}"
    )


def closing(answered: int, stored: int) -> str:
    """The demo's last line: every decision answered is a row in PostgreSQL, or it says
    how many are not."""
    verdict = "all stored" if stored == answered else f"{answered - stored:,} NOT stored"
    return f"decisions answered: {answered:,}; rows stored in PostgreSQL: {stored:,} ({verdict})"


async def show_status(
    report: ReplayReport,
    count_stored: Callable[[], Awaitable[int | None]],
    console: Console,
    stop: asyncio.Event,
    plain_every_s: float = 5.0,
) -> None:
    """Refresh the line every second until `stop` is set."""
    seen, last = 0, time.monotonic()

    async def tick() -> str:
        nonlocal seen, last
        now = time.monotonic()
        line = render(snapshot(report, seen, now - last, await count_stored()))
        seen, last = len(report.latencies_ms), now
        return line

    if not console.is_terminal:
        while not stop.is_set():
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), plain_every_s)
            console.print(await tick())
        return
    with Live(Text(""), console=console, refresh_per_second=4, transient=False) as live:
        while not stop.is_set():
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
            live.update(Text(await tick()))
