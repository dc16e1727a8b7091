"""The champion and the challenger side by side: a period's figures of the decisions that
carried a challenger (the second bundle, scored in shadow on the same features in the same
request), once with the champion's score and decision and once with the challenger's, on
the same transactions and the same labels. Pure: no database, no files (docs/reports.md,
"Champion and challenger").

Both sides go through monitoring.figures.performance, the challenger's frame being the
champion's with `score` and `decision` replaced, so the maturity rules are the plain
report's: immature weeks out of the headline, pending decisions in no rate. The verdict
compares the mature weeks' average precision, and names no winner below MIN_FRAUD
labelled frauds or without a mature week.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

import pandas as pd

from monitoring.figures import COLUMNS, Figures, performance, plain

# The frame compare() reads: figures.COLUMNS and, per row, the champion's model version
# and the challenger's version, score and decision (all three null where the decision
# carried no challenger).
CHALLENGER_COLUMNS = (
    "model_version",
    "challenger_model_version",
    "challenger_score",
    "challenger_decision",
)
COMPARE_COLUMNS = (*COLUMNS, *CHALLENGER_COLUMNS)

# Fewer labelled frauds than this in the mature weeks and no winner is named: the average
# precision of a few dozen frauds moves by several hundredths when one of them is ranked
# differently, more than champions and challengers usually differ by.
MIN_FRAUD = 30

Winner = Literal["champion", "challenger", "tie"]


@dataclass(frozen=True, slots=True)
class Side:
    """One side's figures on the pair's decisions: per week, the mature weeks together
    (None: none is mature) and the immature ones (None: none), as in the plain report."""

    model_version: str
    weeks: tuple[Figures, ...]
    period: Figures | None
    immature: Figures | None


@dataclass(frozen=True, slots=True)
class Verdict:
    """Who won on the mature weeks' average precision. `winner` None: none named, `reason`
    says why (no mature week, too few frauds, an undefined average precision)."""

    winner: Winner | None
    champion_average_precision: float | None
    challenger_average_precision: float | None
    difference: float | None  # challenger's minus champion's
    fraud: int  # labelled frauds in the mature weeks (the same on both sides)
    min_fraud: int
    reason: str  # one sentence for people, the verdict first


@dataclass(frozen=True, slots=True)
class Pair:
    """A (champion model version, challenger model version) pair and its decisions."""

    champion_model_version: str
    challenger_model_version: str
    decisions: int  # of the period's decisions, those scored by this pair
    verdict: Verdict
    champion: Side
    challenger: Side


@dataclass(frozen=True, slots=True)
class Comparison:
    decisions: int  # the period's decisions that carried a challenger
    without_challenger: int  # the period's other decisions, in no figure here
    min_fraud: int
    pairs: tuple[Pair, ...]  # most decisions first

    def as_json(self) -> dict[str, Any]:
        """Plain JSON types: report.json's `compare`."""
        return plain(asdict(self))


def compare(
    frame: pd.DataFrame,
    since: datetime,
    until: datetime,
    as_of: datetime,
    label_delay_days: float,
    cost_per_review: float,
    min_fraud: int = MIN_FRAUD,
) -> Comparison | None:
    """Champion and challenger over `frame` (COMPARE_COLUMNS, the rows of [since, until)),
    per pair of model versions; None when no row carried a challenger."""
    if min_fraud < 1:
        raise ValueError(f"the minimum of frauds must be 1 or more: {min_fraud}")
    time = pd.to_datetime(frame["event_time"], utc=True)
    inside = (time >= pd.Timestamp(since)) & (time < pd.Timestamp(until))
    frame = frame[inside.to_numpy()]
    carried = frame["challenger_model_version"].notna() & frame["challenger_score"].notna()
    shadowed = frame[carried.to_numpy()]
    if shadowed.empty:
        return None
    champions = shadowed["model_version"].astype(str).to_numpy()
    challengers = shadowed["challenger_model_version"].astype(str).to_numpy()
    counts = Counter(zip(champions.tolist(), challengers.tolist(), strict=True))
    # Most decisions first; equal counts by the versions' names, for a stable order.
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    pairs = []
    for (champion, challenger), rows in ordered:
        mine = (champions == champion) & (challengers == challenger)
        pairs.append(
            _pair(
                shadowed[mine],
                champion,
                challenger,
                rows,
                since,
                until,
                as_of,
                label_delay_days,
                cost_per_review,
                min_fraud,
            )
        )
    return Comparison(
        decisions=len(shadowed),
        without_challenger=len(frame) - len(shadowed),
        min_fraud=min_fraud,
        pairs=tuple(pairs),
    )


def challenger_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The figures' frame (COLUMNS) as the challenger would have made it: its score and its
    decision in place of the champion's, the transactions and labels the same."""
    return frame.assign(
        score=frame["challenger_score"].astype("float64"),
        decision=frame["challenger_decision"],
    )[list(COLUMNS)]


def _pair(
    rows: pd.DataFrame,
    champion: str,
    challenger: str,
    decisions: int,
    since: datetime,
    until: datetime,
    as_of: datetime,
    label_delay_days: float,
    cost_per_review: float,
    min_fraud: int,
) -> Pair:
    def side(version: str, frame: pd.DataFrame) -> Side:
        r = performance(frame, since, until, as_of, label_delay_days, cost_per_review)
        return Side(version, r.weeks, r.period, r.immature)

    ours = side(champion, rows[list(COLUMNS)])
    theirs = side(challenger, challenger_frame(rows))
    return Pair(
        champion_model_version=champion,
        challenger_model_version=challenger,
        decisions=decisions,
        verdict=verdict(ours, theirs, min_fraud),
        champion=ours,
        challenger=theirs,
    )


def verdict(champion: Side, challenger: Side, min_fraud: int = MIN_FRAUD) -> Verdict:
    """Who won on the mature weeks' average precision, if it can be told."""
    if champion.period is None or challenger.period is None:
        return Verdict(
            None,
            None,
            None,
            None,
            0,
            min_fraud,
            "No winner named: no week of the period is mature yet, so the labels are too "
            "young to tell (the immature weeks' figures are early, not a verdict).",
        )
    ours, theirs = champion.period.average_precision, challenger.period.average_precision
    fraud = champion.period.fraud
    difference = None if ours is None or theirs is None else theirs - ours

    def told(winner: Winner | None, reason: str) -> Verdict:
        return Verdict(winner, ours, theirs, difference, fraud, min_fraud, reason)

    if fraud < min_fraud:
        return told(
            None,
            f"Too few labelled frauds to tell: {fraud} in the mature weeks, fewer than "
            f"the {min_fraud} a verdict needs; no winner named.",
        )
    if ours is None or theirs is None or difference is None:
        return told(
            None,
            "No winner named: the mature weeks have no legitimate decision, so average "
            "precision is undefined.",
        )
    on = f"over the mature weeks, on {fraud:,} labelled frauds"
    if difference == 0:
        return told("tie", f"Neither won: both have an average precision of {ours:.3f} {on}.")
    winner: Winner = "challenger" if difference > 0 else "champion"
    won, lost = (theirs, ours) if difference > 0 else (ours, theirs)
    return told(
        winner,
        f"The {winner} won: average precision {won:.3f} against {lost:.3f} "
        f"(challenger minus champion {difference:+.3f}) {on}.",
    )
