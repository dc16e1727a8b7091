"""The performance report in the terminal: the weekly table and the period's lines, the
same figures as report.md, immature weeks dimmed and named so."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from monitoring.figures import Figures, PerformanceReport
from monitoring.markdown import QUALITY_HEADER, quality_row


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
