"""report.md: the performance report's figures as Markdown tables, immature weeks marked
and the period's headline drawn from the mature weeks only, and with `--compare` the
champion and the challenger side by side (docs/reports.md)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

from monitoring.compare import Comparison, Pair, Side
from monitoring.figures import Figures, PerformanceReport
from monitoring.plots import BUSINESS, COMPARE, QUALITY, business_plot

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


def render(report: PerformanceReport, comparison: Comparison | None = None) -> str:
    """The whole report.md; with `comparison`, its "Champion and challenger" section."""
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
    ]
    plots = f"{QUALITY}, {BUSINESS.format(currency='<currency>')}"
    if comparison is not None:
        lines += render_comparison(comparison, report.label_delay_days)
        plots += f", {COMPARE}"
    lines += [f"The figures are in report.json; plots: {plots}.", ""]
    return "\n".join(lines)


# Champion and challenger (monitoring.compare).


def _difference(ours: float | None, theirs: float | None, kind: str) -> str:
    """The challenger's figure minus the champion's: rates in percentage points."""
    if kind == "shared":
        return "same decisions"
    if ours is None or theirs is None:
        return "–"
    d = theirs - ours
    if kind == "rate":
        return f"{100 * d:+.1f} pt"
    if kind == "ratio":
        return f"{d:+.3f}"
    if kind == "amount":
        return f"{d:+,.2f}"
    return f"{int(d):+,}"


def _shown(value: float | None, kind: str) -> str:
    if kind == "rate":
        return rate(value)
    if kind == "ratio":
        return ratio(value)
    if kind == "amount":
        return "–" if value is None else amount(value)
    return "–" if value is None else f"{int(value):,}"


# (figure, Figures attribute, kind); "shared": the same on both sides, by construction.
SIDE_FIGURES = (
    ("decisions", "decisions", "shared"),
    ("fraud", "fraud", "shared"),
    ("legitimate", "legitimate", "shared"),
    ("pending", "pending", "shared"),
    ("average precision", "average_precision", "ratio"),
    ("flagged (review + decline)", "flagged", "count"),
    ("precision", "precision", "rate"),
    ("recall", "recall", "rate"),
    ("false-positive rate", "false_positive_rate", "rate"),
    ("reviews", "reviews", "count"),
    ("declines", "declines", "count"),
    ("review cost", "review_cost", "amount"),
)
# (figure, Money attribute, kind)
SIDE_MONEY = (
    ("fraud amount", "fraud_amount", "amount"),
    ("fraud declined", "fraud_declined", "amount"),
    ("fraud sent to review", "fraud_review", "amount"),
    ("fraud approved (missed)", "fraud_approved", "amount"),
    ("value detection rate", "value_detection_rate", "rate"),
    ("legitimate declined", "legitimate_declined", "amount"),
)


def _version(text: str) -> str:
    return text.replace("|", "\\|")


def side_header(pair: Pair, cell: Callable[[str], str] = _version) -> tuple[str, ...]:
    """`cell`: how a model version is written in a header (Markdown: pipes escaped)."""
    return (
        "figure",
        f"champion {cell(pair.champion_model_version)}",
        f"challenger {cell(pair.challenger_model_version)}",
        "challenger − champion",
    )


def side_rows(ours: Figures, theirs: Figures) -> list[list[str]]:
    """One span's figures, the champion's beside the challenger's (the same span, the same
    decisions), then the money per currency."""
    rows = []
    for name, field, kind in SIDE_FIGURES:
        a, b = getattr(ours, field), getattr(theirs, field)
        rows.append([name, _shown(a, kind), _shown(b, kind), _difference(a, b, kind)])
    mine = {m.currency: m for m in ours.money}
    their = {m.currency: m for m in theirs.money}
    for currency in sorted(mine):
        for name, field, kind in SIDE_MONEY:
            a, b = getattr(mine[currency], field), getattr(their[currency], field)
            rows.append(
                [
                    f"{name} ({currency})",
                    _shown(a, kind),
                    _shown(b, kind),
                    _difference(a, b, kind),
                ]
            )
    return rows


WEEKLY_HEADER = ("week", "labels", "decisions", "fraud", "pending")


def weekly_header(pair: Pair, cell: Callable[[str], str] = _version) -> tuple[str, ...]:
    return (
        *WEEKLY_HEADER,
        f"champion {cell(pair.champion_model_version)} AP",
        f"challenger {cell(pair.challenger_model_version)} AP",
        "challenger − champion",
    )


def weekly_rows(champion: Side, challenger: Side) -> list[list[str]]:
    """The weekly average precision of both sides, then the period's and the immature
    weeks' rows."""
    ours = [*champion.weeks, *(f for f in (champion.period, champion.immature) if f)]
    theirs = [*challenger.weeks, *(f for f in (challenger.period, challenger.immature) if f)]
    return [
        [
            a.name,
            labels(a),
            f"{a.decisions:,}",
            f"{a.fraud:,}",
            f"{a.pending:,}",
            ratio(a.average_precision),
            ratio(b.average_precision),
            _difference(a.average_precision, b.average_precision, "ratio"),
        ]
        for a, b in zip(ours, theirs, strict=True)
    ]


def render_comparison(comparison: Comparison, label_delay_days: float) -> list[str]:
    """report.md's "Champion and challenger" section."""
    lines = [
        "## Champion and challenger",
        "",
        f"The {comparison.decisions:,} decisions of the period that carried a challenger "
        "(the second model, scored in shadow on the same features; it never decided), "
        "with the champion's score and decision beside the challenger's: the same "
        "transactions, the same labels and maturity. Flagged: the side's `review` and "
        "`decline` (the challenger's under the same policy, lists and rules). "
        f"{comparison.without_challenger:,} decision(s) without a challenger are in no "
        "figure of this section. Who won is read on the mature weeks' average precision; "
        f"no winner is named with fewer than {comparison.min_fraud} labelled frauds there.",
        "",
    ]
    for pair in comparison.pairs:
        lines += [
            f"### Champion {_version(pair.champion_model_version)}, challenger "
            f"{_version(pair.challenger_model_version)} ({pair.decisions:,} decisions)",
            "",
            f"**{pair.verdict.reason}**",
            "",
        ]
        ours, theirs = pair.champion, pair.challenger
        if ours.period is not None and theirs.period is not None:
            lines += [
                f"Mature weeks, {day(ours.period)}:",
                "",
                *_table(side_header(pair), side_rows(ours.period, theirs.period)),
                "",
            ]
        else:
            lines += [
                f"No week is mature yet (labels known for less than {label_delay_days:g} "
                "days): no headline.",
                "",
            ]
        if ours.immature is not None and theirs.immature is not None and ours.immature.decisions:
            lines += [
                f"Immature weeks, {day(ours.immature)} (early figures, not in the verdict):",
                "",
                *_table(side_header(pair), side_rows(ours.immature, theirs.immature)),
                "",
            ]
        lines += [
            "Weekly average precision (AP):",
            "",
            *_table(weekly_header(pair), weekly_rows(ours, theirs)),
            "",
        ]
    lines += [f"![weekly average precision, champion and challenger]({COMPARE})", ""]
    return lines
