"""The demo's one live line: what the replayed traffic got in the last second, and how
many decisions the API answered so far (to anyone: its own count, as the last line's) and
how many are stored, refreshed every second in place on a terminal (a plain line every
few seconds elsewhere), and the summary printed at exit."""

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
from vocabulary import TIERS


@dataclass(slots=True)
class Snapshot:
    """What the line shows at one moment."""

    rate: float
    p50_ms: float
    p99_ms: float
    tiers: Counter[str]  # the demo's traffic's
    answered: int | None  # by the API, to anyone (None: its count could not be read)
    degraded: int
    errors: int
    stored: int | None


def snapshot(
    report: ReplayReport, since: int, seconds: float, answered: int | None, stored: int | None
) -> Snapshot:
    """From the replay's report: latencies and rate of the answers after index `since`,
    totals over the whole run; `answered` and `stored` as counted where they are kept (the
    API's /metrics, PostgreSQL)."""
    recent = report.latencies_ms[since:]
    p50, p99 = (
        (float(np.percentile(recent, 50)), float(np.percentile(recent, 99))) if recent else (0, 0)
    )
    return Snapshot(
        rate=len(recent) / seconds if seconds > 0 else 0.0,
        p50_ms=p50,
        p99_ms=p99,
        tiers=report.tiers,
        answered=answered,
        degraded=report.degraded,
        errors=sum(report.errors.values())
        + sum(n for status, n in report.statuses.items() if status != 200),
        stored=stored,
    )


def render(s: Snapshot, width: int | None = None) -> str:
    """The line, in at most `width` columns if it can: the counts answered and stored
    always, then as many of the other parts as fit, the most telling first (the rate,
    degraded answers and errors when there are any, the tiers, p99, zero counts, p50), each
    in its place and shortened before it is left out."""
    rate = f"{s.rate:6.1f} req/s"
    counts = [s.tiers.get(t, 0) for t in TIERS]
    tiers = " ".join(f"{t} {n:,}" for t, n in zip(TIERS, counts, strict=True))
    problems = {"degraded": s.degraded, "errors": s.errors}
    every = "  ".join(f"{name} {n:,}" for name, n in problems.items())
    troubled = any(problems.values())
    # The parts by how telling they are: (place on the line, its forms, longest first).
    parts = [
        (0, [rate]),
        *([(4, [every, "  ".join(f"{k} {n:,}" for k, n in problems.items() if n)])] * troubled),
        (3, [tiers, "l/m/h/c " + "/".join(f"{n:,}" for n in counts)]),
        (2, [f"p99 {s.p99_ms:5.1f} ms"]),
        *([(4, [every])] * (not troubled)),
        (1, [f"p50 {s.p50_ms:5.1f} ms"]),
    ]
    kept = f"answered {_count(s.answered)}  stored {_count(s.stored)}"
    whole = _line({place: forms[0] for place, forms in parts}, kept, "  |  ")
    if width is None or len(whole) <= width:
        return whole
    chosen: dict[int, str] = {}
    for place, forms in parts:  # which parts fit, each at its shortest
        if len(_line(chosen | {place: forms[-1]}, kept, " | ")) <= width:
            chosen[place] = forms[-1]
    for place, forms in parts:  # then each at its longest that still fits
        if place in chosen:
            chosen[place] = next(
                f for f in forms if len(_line(chosen | {place: f}, kept, " | ")) <= width
            )
    return _line(chosen, kept, " | ")


def _count(n: int | None) -> str:
    return "?" if n is None else f"{n:,}"


# Places on the line (render) in their groups: the speed, the tiers, the failures.
GROUPS = {0: 0, 1: 0, 2: 0, 3: 1, 4: 2}


def _line(parts: dict[int, str], kept: str, separator: str) -> str:
    groups: dict[int, list[str]] = {}
    for place in sorted(parts):
        groups.setdefault(GROUPS[place], []).append(parts[place])
    return separator.join([*("  ".join(g) for g in groups.values() if any(g)), kept])


def closing(answered: int | None, ours: int, stored: int) -> str:
    """The demo's last line: every decision the API answered, to the demo's traffic or to
    anyone else (`answered`, its own count; None if it could not be read, then the demo's
    `ours` stand in), is a row in PostgreSQL, or it says how many are not."""
    if answered is None:
        answered, whose = ours, " (the demo's traffic; the API's own count could not be read)"
    else:
        whose = "" if answered == ours else f" (the demo's traffic got {ours:,})"
    if stored < answered:
        verdict = f"{answered - stored:,} NOT stored"
    elif stored == answered:
        verdict = "all stored"
    else:  # answers the count missed (a call by hand after it was read)
        verdict = f"all stored, and {stored - answered:,} more: answers the count missed"
    return (
        f"decisions answered: {answered:,}{whose}; rows stored in PostgreSQL: {stored:,}"
        f" ({verdict})"
    )


async def show_status(
    report: ReplayReport,
    count_answered: Callable[[], Awaitable[int | None]],
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
        width = console.width if console.is_terminal else None  # a log keeps every part
        answered, stored = await asyncio.gather(count_answered(), count_stored())
        line = render(snapshot(report, seen, now - last, answered, stored), width)
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
