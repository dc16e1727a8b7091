"""The performance report's figures, from a period's decisions with their labels: per week
and for the period, the operating point of the stored decisions and what it cost and
saved in money. Pure: no database, no files (docs/reports.md explains each figure).

Labels arrive late (chargebacks take weeks), so a figure is only as good as its labels'
maturity. A decision is *mature* once the label delay has passed since its transaction;
an unlabelled mature decision counts as legitimate (whoever could report it has had the
time), an unlabelled immature one is *pending* and counts as nothing. A week is mature
when every transaction it can hold is; the period's headline figures are those of the
mature weeks only, the immature weeks' are given apart, never mixed in.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from ensemble.quality import average_precision, operating_point
from vocabulary import Decision

# The frame performance() reads, one row per stored decision: the transaction's event time
# (tz-aware UTC), amount and currency, the stored score and decision, and the effective
# label (fraud, legitimate, or None where no report arrived).
COLUMNS = ("event_time", "amount", "currency", "score", "decision", "label")
# Decisions that stop or hold a transaction: the review threshold's side of the policy.
FLAGGED: tuple[Decision, ...] = ("review", "decline")
DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Money:
    """The business view in one currency (amounts are never summed across currencies)."""

    currency: str
    fraud_amount: float  # confirmed fraud
    fraud_declined: float
    fraud_review: float
    fraud_approved: float  # missed: approved, later reported as fraud
    legitimate_declined: float  # labelled legitimate, or unlabelled and mature
    pending_amount: float  # unlabelled and immature: not counted above
    value_detection_rate: float | None  # (declined + review) / fraud amount


@dataclass(frozen=True, slots=True)
class Figures:
    """One week's figures, or the period's. Rates are None where undefined (no fraud for
    recall, nothing flagged for precision, ...), never a flattering 0 or 1."""

    name: str  # ISO week (2026-W49), or "period" / "immature weeks"
    start: datetime
    end: datetime  # excluded
    mature: bool
    # Labels known up to this many days after the last transaction the span can hold.
    label_age_days: float
    decisions: int
    fraud: int  # confirmed fraud
    legitimate: int  # labelled legitimate, or unlabelled and mature
    unlabelled: int  # of `legitimate`, those nobody labelled
    pending: int  # unlabelled and immature: in no rate
    flagged: int  # review + decline, every decision (pending ones too)
    reviews: int
    declines: int
    average_precision: float | None
    precision: float | None
    recall: float | None
    false_positive_rate: float | None
    review_cost: float
    money: tuple[Money, ...]


@dataclass(frozen=True, slots=True)
class PerformanceReport:
    since: datetime
    until: datetime
    as_of: datetime
    label_delay_days: float
    cost_per_review: float
    weeks: tuple[Figures, ...]
    period: Figures | None  # the mature weeks together; None: none is mature
    immature: Figures | None  # the immature weeks together, shown apart; None: none

    def as_json(self) -> dict[str, Any]:
        """Plain JSON types (times in RFC 3339): report.json, the API's body."""
        return plain(asdict(self))


# A report is read by people, a row a week: two years of weeks at most. A longer period is
# refused before anything is read: its weeks are computed one by one, and a period from
# year 1 to 9999 (a fuzzer sent one) cost the API minutes of CPU.
MAX_PERIOD_DAYS = 731


def period_refusal(since: datetime, until: datetime) -> str | None:
    """Why [since, until) cannot be reported, or None."""
    if until <= since:
        return "must be after since"
    if until - since > MAX_PERIOD_DAYS * DAY:
        return (
            f"the period spans {(until - since) / DAY:,.0f} days; a report covers at most "
            f"{MAX_PERIOD_DAYS} (two years, a row a week): choose a shorter period"
        )
    return None


def week_start(moment: datetime) -> datetime:
    """Monday 00:00 UTC of the ISO week holding `moment`."""
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - day.weekday() * DAY


def weeks(since: datetime, until: datetime) -> list[tuple[datetime, datetime]]:
    """The ISO weeks that meet [since, until), each clipped to it."""
    spans = []
    start = since
    while start < until:
        end = min(week_start(start) + 7 * DAY, until)
        spans.append((start, end))
        start = end
    return spans


def performance(
    frame: pd.DataFrame,
    since: datetime,
    until: datetime,
    as_of: datetime,
    label_delay_days: float,
    cost_per_review: float,
) -> PerformanceReport:
    """The report over `frame` (COLUMNS; rows outside [since, until) are ignored) as known at
    `as_of`, labels taken as mature `label_delay_days` after their transaction."""
    if until <= since:
        raise ValueError(f"until ({until.isoformat()}) is not after since ({since.isoformat()})")
    if (refusal := period_refusal(since, until)) is not None:
        raise ValueError(refusal)
    if label_delay_days <= 0:
        raise ValueError(f"the label delay must be positive: {label_delay_days}")
    if cost_per_review < 0:
        raise ValueError(f"the cost per review must be 0 or more: {cost_per_review}")
    delay = timedelta(days=label_delay_days)
    time = pd.to_datetime(frame["event_time"], utc=True)
    rows = Rows(
        time=time,
        amount=frame["amount"].to_numpy(dtype=np.float64),
        currency=frame["currency"].to_numpy(dtype=object),
        score=frame["score"].to_numpy(dtype=np.float64),
        decision=frame["decision"].to_numpy(dtype=object),
        fraud=(frame["label"] == "fraud").to_numpy(),
        labelled=frame["label"].isin(("fraud", "legitimate")).to_numpy(),
        mature=(time + delay <= pd.Timestamp(as_of)).to_numpy(),
        cost_per_review=cost_per_review,
    )
    spans = weeks(since, until)
    week_figures = []
    mature_weeks = np.zeros(len(frame), dtype=bool)
    immature_weeks = np.zeros(len(frame), dtype=bool)
    for start, end in spans:
        inside = ((time >= pd.Timestamp(start)) & (time < pd.Timestamp(end))).to_numpy()
        mature = end + delay <= as_of
        (mature_weeks if mature else immature_weeks)[inside] = True
        name = "{}-W{:02d}".format(*start.isocalendar()[:2])
        week_figures.append(rows.figures(inside, name, start, end, mature, as_of))
    mature_spans = [s for s, f in zip(spans, week_figures, strict=True) if f.mature]
    immature_spans = [s for s, f in zip(spans, week_figures, strict=True) if not f.mature]
    return PerformanceReport(
        since=since,
        until=until,
        as_of=as_of,
        label_delay_days=label_delay_days,
        cost_per_review=cost_per_review,
        weeks=tuple(week_figures),
        period=rows.figures(
            mature_weeks, "period", mature_spans[0][0], mature_spans[-1][1], True, as_of
        )
        if mature_spans
        else None,
        immature=rows.figures(
            immature_weeks,
            "immature weeks",
            immature_spans[0][0],
            immature_spans[-1][1],
            False,
            as_of,
        )
        if immature_spans
        else None,
    )


@dataclass(frozen=True, slots=True)
class Rows:
    """The frame's columns as arrays, with each row's label status worked out once."""

    time: pd.Series
    amount: np.ndarray
    currency: np.ndarray
    score: np.ndarray
    decision: np.ndarray
    fraud: np.ndarray
    labelled: np.ndarray
    mature: np.ndarray  # the label delay has passed since the transaction
    cost_per_review: float

    def figures(
        self,
        mask: np.ndarray,
        name: str,
        start: datetime,
        end: datetime,
        mature: bool,
        as_of: datetime,
    ) -> Figures:
        """The figures of the rows in `mask`, a span [start, end)."""
        counted = mask & (self.labelled | self.mature)  # pending rows are in no rate
        y = self.fraud[counted]
        legitimate = counted & ~self.fraud
        flagged = np.isin(self.decision, FLAGGED)
        point = operating_point(y, flagged[counted], self.amount[counted])
        reviews = int((mask & (self.decision == "review")).sum())
        return Figures(
            name=name,
            start=start,
            end=end,
            mature=mature,
            label_age_days=max(0.0, (as_of - end) / DAY),
            decisions=int(mask.sum()),
            fraud=int(y.sum()),
            legitimate=int(legitimate.sum()),
            unlabelled=int((legitimate & ~self.labelled).sum()),
            pending=int((mask & ~counted).sum()),
            flagged=int((mask & flagged).sum()),
            reviews=reviews,
            declines=int((mask & (self.decision == "decline")).sum()),
            average_precision=average_precision(y, self.score[counted]),
            precision=point["precision"] if flagged[counted].any() else None,
            recall=point["recall"] if y.any() else None,
            false_positive_rate=point["false_positive_rate"] if legitimate.any() else None,
            review_cost=reviews * self.cost_per_review,
            money=tuple(
                self._money(mask, counted, str(c)) for c in sorted(set(self.currency[mask]))
            ),
        )

    def _money(self, mask: np.ndarray, counted: np.ndarray, currency: str) -> Money:
        mine = mask & (self.currency == currency)
        fraud = mine & counted & self.fraud
        legitimate = mine & counted & ~self.fraud

        def amount(rows: np.ndarray, decision: str | None = None) -> float:
            if decision is not None:
                rows = rows & (self.decision == decision)
            return float(self.amount[rows].sum())

        fraud_amount = amount(fraud)
        caught = amount(fraud, "decline") + amount(fraud, "review")
        return Money(
            currency=currency,
            fraud_amount=fraud_amount,
            fraud_declined=amount(fraud, "decline"),
            fraud_review=amount(fraud, "review"),
            fraud_approved=amount(fraud, "approve"),
            legitimate_declined=amount(legitimate, "decline"),
            pending_amount=amount(mine & ~counted),
            value_detection_rate=caught / fraud_amount if fraud_amount else None,
        )


def plain(value: Any) -> Any:
    """`value` (asdict of a report) in plain JSON types, times in RFC 3339 UTC."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value
