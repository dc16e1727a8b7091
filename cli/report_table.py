"""The performance report in the terminal: the weekly table and the period's lines, the
same figures as report.md, immature weeks dimmed and named so; with `--compare`, the
champion and the challenger side by side."""

from __future__ import annotations

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


def print_report(console: Console, report: PerformanceReport) -> None:
    table = Table(*QUALITY_HEADER, title="Fraud performance by week")
    for week in report.weeks:
        table.add_row(*quality_row(week), style=None if week.mature else "dim")
    for total in (report.period, report.immature):
        if total is not None:
            table.add_row(*quality_row(total), style="bold" if total.mature else "dim")
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
