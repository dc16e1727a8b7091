"""report.md: the performance report's figures as Markdown tables, immature weeks marked
and the period's headline drawn from the mature weeks only (docs/reports.md)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from monitoring.figures import Figures, PerformanceReport
from monitoring.plots import BUSINESS, QUALITY, business_plot

IMMATURE = "immature"


def rate(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def amount(value: float) -> str:
    return f"{value:,.2f}"


def day(f: Figures) -> str:
    """The span's first and last days, both included (its end is excluded)."""
    return f"{f.start:%Y-%m-%d} to {f.end - timedelta(microseconds=1):%Y-%m-%d}"


def labels(f: Figures) -> str:
    return f"known {int(f.label_age_days)} d after" if f.mature else IMMATURE


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(" --- " for _ in header) + "|",
        *("| " + " | ".join(r) + " |" for r in rows),
    ]


QUALITY_HEADER = (
    "week",
    "days",
    "labels",
    "decisions",
    "fraud",
    "pending",
    "average precision",
    "precision",
    "recall",
    "false-positive rate",
    "flagged",
    "reviews",
    "review cost",
)


def quality_row(f: Figures) -> list[str]:
    return [
        f.name,
        day(f),
        labels(f),
        f"{f.decisions:,}",
        f"{f.fraud:,}",
        f"{f.pending:,}",
        ratio(f.average_precision),
        rate(f.precision),
        rate(f.recall),
        rate(f.false_positive_rate),
        f"{f.flagged:,}",
        f"{f.reviews:,}",
        amount(f.review_cost),
    ]


MONEY_HEADER = (
    "week",
    "labels",
    "fraud amount",
    "fraud declined",
    "fraud sent to review",
    "fraud approved (missed)",
    "value detection rate",
    "legitimate declined",
    "pending amount",
)


def money_rows(figures: Sequence[Figures], currency: str) -> list[list[str]]:
    rows = []
    for f in figures:
        for m in f.money:
            if m.currency == currency:
                rows.append(
                    [
                        f.name,
                        labels(f),
                        amount(m.fraud_amount),
                        amount(m.fraud_declined),
                        amount(m.fraud_review),
                        amount(m.fraud_approved),
                        rate(m.value_detection_rate),
                        amount(m.legitimate_declined),
                        amount(m.pending_amount),
                    ]
                )
    return rows


def currencies(report: PerformanceReport) -> list[str]:
    return sorted({m.currency for w in report.weeks for m in w.money})


def render(report: PerformanceReport) -> str:
    """The whole report.md."""
    totals = [f for f in (report.period, report.immature) if f is not None]
    immature = [w for w in report.weeks if not w.mature]
    lines = [
        f"# Fraud performance, {report.since:%Y-%m-%d %H:%M} to {report.until:%Y-%m-%d %H:%M} UTC",
        "",
        f"Made {report.as_of:%Y-%m-%d %H:%M} UTC from the stored decisions and their latest "
        f"labels. Label delay: {report.label_delay_days:g} days (FRAUD_LABEL_DELAY_DAYS): a "
        "transaction nobody labelled counts as legitimate once that long has passed, and as "
        "pending (in no rate) before. A week is mature when its last day is that old. "
        "Flagged: the decisions `review` and `decline`. Cost per review: "
        + (
            f"{report.cost_per_review:,.2f} (FRAUD_REVIEW_COST)."
            if report.cost_per_review
            else "not set (FRAUD_REVIEW_COST, --cost-per-review): review cost shows 0."
        ),
        "",
        "## The period",
        "",
    ]
    if report.period is None:
        lines.append(
            f"**No week of this period is mature yet** (labels known for less than "
            f"{report.label_delay_days:g} days): there is no headline. The figures below "
            "are early and flatter the engine: fraud not reported yet looks like a miss "
            "that never happened."
        )
    else:
        p = report.period
        lines.append(
            f"Mature weeks, {day(p)} (labels known at least {int(p.label_age_days)} days "
            "after every transaction):"
        )
    if immature:
        lines += [
            "",
            f"**{len(immature)} week(s) with immature labels** "
            f"({', '.join(w.name for w in immature)}): shown apart, not in the headline.",
        ]
    lines += ["", *_table(QUALITY_HEADER, [quality_row(f) for f in totals]), ""]
    lines += ["## Weekly", "", *_table(QUALITY_HEADER, [quality_row(w) for w in report.weeks])]
    lines += ["", f"![weekly precision, recall and false-positive rate]({QUALITY})", ""]
    lines += ["## Business view", ""]
    for currency in currencies(report):
        lines += [
            f"### {currency}",
            "",
            *_table(MONEY_HEADER, money_rows([*report.weeks, *totals], currency)),
            "",
            f"![fraud amount by decision, {currency}]({business_plot(currency)})",
            "",
        ]
    if not currencies(report):
        lines += ["No decisions in the period.", ""]
    lines += [
        f"Review cost: {report.period.reviews:,} reviews, {amount(report.period.review_cost)} "
        "over the mature weeks."
        if report.period
        else "Review cost: see the table above.",
        "",
        f"The figures are in report.json; plots: {QUALITY}, {BUSINESS.format(currency='<currency>')}.",
        "",
    ]
    return "\n".join(lines)
