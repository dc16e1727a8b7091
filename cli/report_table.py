"""The performance report in the terminal: the weekly table and the period's lines, the
same figures as report.md, immature weeks dimmed and named so; with `--compare`, the
champion and the challenger side by side. On a terminal narrower than the whole table (an
80-column one cut every cell to two letters and an ellipsis), the days, flagged, reviews
and review cost columns give way (report.md has them; the period's review cost is on a
line below) and the headers and the labels' age are shortened."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Column, Table
from rich.text import Text

from monitoring.compare import Comparison
from monitoring.figures import Figures, PerformanceReport
from monitoring.markdown import (
    QUALITY_HEADER,
    quality_row,
    side_header,
    side_rows,
    weekly_header,
    weekly_rows,
)

WIDE = 150  # columns the whole table needs
NARROW_LEFT_OUT = ("days", "flagged", "reviews", "review cost")
SHORT = {
    "labels": "labels known after",
    "decisions": "decis.",
    "average precision": "AP",
    "precision": "prec",
    "false-positive rate": "FPR",
}


def print_report(console: Console, report: PerformanceReport) -> None:
    narrow = console.width < WIDE
    keep = [i for i, h in enumerate(QUALITY_HEADER) if not (narrow and h in NARROW_LEFT_OUT)]
    header = [
        SHORT.get(QUALITY_HEADER[i], QUALITY_HEADER[i]) if narrow else QUALITY_HEADER[i]
        for i in keep
    ]

    def row(f: Figures) -> list[str]:
        cells = quality_row(f)
        if narrow:
            cells[QUALITY_HEADER.index("labels")] = (
                f"{int(f.label_age_days)} d" if f.mature else "immature"
            )
        return [cells[i] for i in keep]

    totals = [t for t in (report.period, report.immature) if t is not None]
    rows = [
        *((row(w), None if w.mature else "dim") for w in report.weeks),
        *((row(t), "bold" if t.mature else "dim") for t in totals),
    ]
    table = Table(
        title="Fraud performance by week",
        box=box.SIMPLE_HEAD if narrow else box.HEAVY_HEAD,
        pad_edge=not narrow,
        padding=(0, 1, 0, 0) if narrow else (0, 1),
    )
    for j, name in enumerate(header):
        if narrow:  # as wide as its cells (a total's name wraps), its header wrapped to it
            sizes = [len(r[j]) for r, _ in (rows[: len(report.weeks)] if j == 0 else rows)]
            words = [len(w) for w in name.split()]
            table.add_column(name, width=max([*sizes, *words]) + 1)  # + its padding
        else:
            table.add_column(name)
    for cells, style in rows:
        table.add_row(*cells, style=style)
    console.print(table)
    if report.period is None:
        console.print(
            f"[bold]no week is mature yet[/] (labels younger than {report.label_delay_days:g} "
            "days): no headline figures"
        )
    else:
        _money(console, report.period)
    if report.immature is not None:
        console.print(
            f"immature weeks (not in the period's figures): "
            f"{', '.join(w.name for w in report.weeks if not w.mature)}"
        )


def _money(console: Console, period: Figures) -> None:
    for m in period.money:
        console.print(
            f"{m.currency}: fraud {m.fraud_amount:,.2f}, declined {m.fraud_declined:,.2f}, "
            f"sent to review {m.fraud_review:,.2f}, approved (missed) {m.fraud_approved:,.2f}; "
            f"legitimate declined {m.legitimate_declined:,.2f}"
        )
    console.print(f"review cost: {period.reviews:,} reviews, {period.review_cost:,.2f}")


def print_comparison(console: Console, comparison: Comparison) -> None:
    """Per pair of model versions, the verdict first, then the mature weeks' figures side
    by side and the weekly average precision of both."""
    console.print(
        f"champion and challenger: {comparison.decisions:,} decisions carried a challenger "
        f"({comparison.without_challenger:,} did not, in no figure below)"
    )
    for pair in comparison.pairs:
        name = f"{pair.champion_model_version} and {pair.challenger_model_version}"
        verdict = pair.verdict
        style = "bold" if verdict.winner is not None else "bold yellow"
        console.print(f"[{style}]{escape(verdict.reason)}[/]")
        ours, theirs = pair.champion, pair.challenger
        if ours.period is not None and theirs.period is not None:
            table = Table(
                *_columns(side_header(pair, str)),
                title=Text(f"Champion and challenger, mature weeks: {name}"),
            )
            for row in side_rows(ours.period, theirs.period):
                table.add_row(*row)
            console.print(table)
        weekly = Table(
            *_columns(weekly_header(pair, str)), title=Text(f"Weekly average precision: {name}")
        )
        for week, row in zip(
            [*ours.weeks, *(f for f in (ours.period, ours.immature) if f)],
            weekly_rows(ours, theirs),
            strict=True,
        ):
            weekly.add_row(*row, style=_style(week))
        console.print(weekly)


def _style(week: Figures) -> str | None:
    if not week.mature:
        return "dim"
    return "bold" if week.name == "period" else None


def _columns(header: tuple[str, ...]) -> list[Column]:
    # A model version is text from a bundle: never markup.
    return [Column(header=Text(h)) for h in header]
