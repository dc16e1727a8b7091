"""`fraud report`'s table on the terminal: on an 80-column one (it cut every cell to two
letters and an ellipsis) the weeks and their figures are whole; on a wide one, every
column is there."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
from rich.console import Console

from cli.report_table import print_report
from monitoring.figures import performance

MONDAY = datetime(2026, 11, 2, tzinfo=UTC)
DAY = timedelta(days=1)


def report() -> object:
    rows = pd.DataFrame(
        [
            (MONDAY + i * DAY, 1234.5, "EUR", 0.9 if i % 3 else 0.1, d, label)
            for i in range(28)
            for d, label in (("decline", "fraud"), ("approve", None), ("review", "legitimate"))
        ],
        columns=["event_time", "amount", "currency", "score", "decision", "label"],
    )
    return performance(rows, MONDAY, MONDAY + 28 * DAY, MONDAY + 30 * DAY, 7.0, 4.5)


def printed(width: int) -> list[str]:
    console = Console(width=width, record=True, color_system=None)
    print_report(console, report())  # type: ignore[arg-type]
    return console.export_text().splitlines()


def test_an_80_column_terminal_shows_each_week_and_figure_whole() -> None:
    lines = printed(80)
    table = lines[: next(i for i, line in enumerate(lines) if line.startswith("EUR:"))]
    assert all(len(line) <= 80 for line in lines)
    assert not any("\u2026" in line for line in table), "\n".join(table)
    for week in ("2026-W45", "2026-W46", "2026-W47", "2026-W48"):
        assert any(line.lstrip().startswith(week) for line in table)
    assert any("immature" in line for line in table)


def test_a_wide_terminal_shows_every_column() -> None:
    text = "\n".join(printed(200))
    for header in ("days", "flagged", "reviews", "review cost", "false-positive"):
        assert header in text
