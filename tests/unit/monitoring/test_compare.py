"""The champion and the challenger side by side (monitoring.compare): figures worked out by
hand on a few decisions, the verdict, maturity and pairs of model versions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pandas as pd
import pytest

from monitoring.compare import (
    COMPARE_COLUMNS,
    MIN_FRAUD,
    Comparison,
    Pair,
    challenger_frame,
    compare,
)
from monitoring.figures import COLUMNS, Money

MONDAY = datetime(2026, 11, 2, tzinfo=UTC)  # ISO week 2026-W45
DAY = timedelta(days=1)
UNTIL = MONDAY + 14 * DAY  # weeks 45 and 46
LATE = MONDAY + 30 * DAY  # every week mature (label delay 7 days)

# (event time, amount, score, decision, label, model version, challenger's version,
#  challenger's score, challenger's decision); every amount in EUR.
Row = tuple[datetime, float, float, str, str | None, str, str | None, float | None, str | None]

# Week 45, champion v1 and challenger v2. The challenger ranks both frauds first, reviews
# the fraud the champion approved and approves the genuine one the champion declined.
WEEK_45: tuple[Row, ...] = (
    (MONDAY + DAY, 100.0, 0.9, "decline", "fraud", "v1", "v2", 0.95, "decline"),
    (MONDAY + DAY, 50.0, 0.4, "approve", "fraud", "v1", "v2", 0.7, "review"),
    (MONDAY + 2 * DAY, 20.0, 0.8, "decline", "legitimate", "v1", "v2", 0.2, "approve"),
    (MONDAY + 3 * DAY, 10.0, 0.6, "review", None, "v1", "v2", 0.5, "review"),
    (MONDAY + 3 * DAY, 5.0, 0.1, "approve", None, "v1", "v2", 0.1, "approve"),
)
# Decisions without a challenger: in no figure of the comparison.
ALONE: tuple[Row, ...] = (
    (MONDAY + 2 * DAY, 999.0, 0.99, "decline", "fraud", "v1", None, None, None),
    (MONDAY + 9 * DAY, 7.0, 0.2, "approve", None, "v1", None, None, None),
)
# Week 46: a fraud only the challenger declines, and a transaction nobody labelled that is
# still young on day 19 (pending).
WEEK_46: tuple[Row, ...] = (
    (MONDAY + 8 * DAY, 30.0, 0.3, "approve", "fraud", "v1", "v2", 0.9, "decline"),
    (MONDAY + 13 * DAY, 4.0, 0.2, "approve", None, "v1", "v2", 0.3, "approve"),
)


def frame(*rows: Row) -> pd.DataFrame:
    f = pd.DataFrame(
        [(t, a, "EUR", s, d, lab, mv, cmv, cs, cd) for t, a, s, d, lab, mv, cmv, cs, cd in rows],
        columns=list(COMPARE_COLUMNS),
    )
    return f.astype({"challenger_score": "float64"})


def run(as_of: datetime, *rows: Row, min_fraud: int = 2) -> Comparison:
    c = compare(frame(*rows), MONDAY, UNTIL, as_of, 7.0, 4.0, min_fraud)
    assert c is not None
    return c


def only(c: Comparison) -> Pair:
    (pair,) = c.pairs
    return pair


def test_the_challenger_that_ranks_the_fraud_first_wins() -> None:
    c = run(LATE, *WEEK_45, *ALONE)
    assert (c.decisions, c.without_challenger, c.min_fraud) == (5, 2, 2)
    pair = only(c)
    assert (pair.champion_model_version, pair.challenger_model_version) == ("v1", "v2")
    assert pair.decisions == 5
    ours, theirs = pair.champion.period, pair.challenger.period
    assert ours is not None
    assert theirs is not None
    # The same decisions and labels on both sides: 2 frauds, 3 legitimate (2 unlabelled).
    for side in (ours, theirs):
        assert (side.decisions, side.fraud, side.legitimate, side.unlabelled) == (5, 2, 3, 2)
        assert side.pending == 0
    # Champion: ranked .9 F, .8 L, .6 L, .4 F, .1 L: precision 1 and 2/4 at the frauds.
    assert ours.average_precision == pytest.approx((1 + 2 / 4) / 2)
    # Flagged: two declines (a fraud, a genuine) and a review (unlabelled, so genuine).
    assert (ours.flagged, ours.declines, ours.reviews) == (3, 2, 1)
    assert ours.precision == pytest.approx(1 / 3)
    assert ours.recall == 0.5
    assert ours.false_positive_rate == pytest.approx(2 / 3)
    assert ours.review_cost == 4.0
    assert ours.money == (Money("EUR", 150.0, 100.0, 0.0, 50.0, 20.0, 0.0, 100 / 150),)
    # Challenger: both frauds first, AP 1; it declines one fraud and reviews the other and
    # the unlabelled one.
    assert theirs.average_precision == 1.0
    assert (theirs.flagged, theirs.declines, theirs.reviews) == (3, 1, 2)
    assert theirs.precision == pytest.approx(2 / 3)
    assert theirs.recall == 1.0
    assert theirs.false_positive_rate == pytest.approx(1 / 3)
    assert theirs.review_cost == 8.0
    assert theirs.money == (Money("EUR", 150.0, 100.0, 50.0, 0.0, 0.0, 0.0, 1.0),)
    v = pair.verdict
    assert (v.winner, v.fraud, v.min_fraud) == ("challenger", 2, 2)
    assert (v.champion_average_precision, v.challenger_average_precision) == (0.75, 1.0)
    assert v.difference == pytest.approx(0.25)
    assert v.reason == (
        "The challenger won: average precision 1.000 against 0.750 (challenger minus "
        "champion +0.250) over the mature weeks, on 2 labelled frauds."
    )


def test_a_challenger_that_ranks_worse_loses() -> None:
    # v3 ranks every genuine transaction above the frauds: .9 L, .6 L, .5 L, .3 F, .2 F.
    worse = [
        (*r[:6], "v3", score, decision)
        for r, score, decision in zip(
            WEEK_45,
            (0.3, 0.2, 0.9, 0.5, 0.6),
            ("approve", "approve", "decline", "review", "review"),
            strict=True,
        )
    ]
    pair = only(run(LATE, *worse))
    theirs = pair.challenger.period
    assert theirs is not None
    assert theirs.average_precision == pytest.approx((1 / 4 + 2 / 5) / 2)
    assert (theirs.precision, theirs.recall) == (0.0, 0.0)
    assert theirs.money[0].fraud_approved == 150.0
    v = pair.verdict
    assert v.winner == "champion"
    assert v.difference == pytest.approx(0.325 - 0.75)
    assert v.reason.startswith("The champion won: average precision 0.750 against 0.325")
    assert "(challenger minus champion -0.425)" in v.reason


def test_the_same_ranking_is_a_tie() -> None:
    same = [(*r[:6], "v1b", r[2], r[3]) for r in WEEK_45]
    v = only(run(LATE, *same)).verdict
    assert (v.winner, v.difference) == ("tie", 0.0)
    assert v.reason.startswith("Neither won: both have an average precision of 0.750")


def test_too_few_frauds_name_no_winner_but_give_the_figures() -> None:
    c = compare(frame(*WEEK_45), MONDAY, UNTIL, LATE, 7.0, 4.0)
    assert c is not None
    v = only(c).verdict
    assert (v.winner, v.fraud, v.min_fraud, MIN_FRAUD) == (None, 2, 30, 30)
    assert (v.champion_average_precision, v.challenger_average_precision) == (0.75, 1.0)
    assert v.difference == pytest.approx(0.25)
    assert v.reason == (
        "Too few labelled frauds to tell: 2 in the mature weeks, fewer than the 30 a "
        "verdict needs; no winner named."
    )


def test_an_immature_week_is_kept_out_of_the_headline_and_the_verdict() -> None:
    # Day 19: week 46 ended 5 days ago; its day-13 transaction nobody labelled is pending.
    pair = only(run(MONDAY + 19 * DAY, *WEEK_45, *WEEK_46))
    for side in (pair.champion, pair.challenger):
        assert [(w.name, w.mature, w.decisions) for w in side.weeks] == [
            ("2026-W45", True, 5),
            ("2026-W46", False, 2),
        ]
        assert side.period is not None
        assert side.immature is not None
        assert (side.period.decisions, side.period.fraud) == (5, 2)
        assert (side.immature.decisions, side.immature.fraud, side.immature.pending) == (2, 1, 1)
    # The verdict is week 45's alone: week 46's fraud, declined by the challenger only,
    # is not in it.
    assert pair.verdict.winner == "challenger"
    assert pair.verdict.difference == pytest.approx(0.25)
    ours, theirs = pair.champion.immature, pair.challenger.immature
    assert ours is not None
    assert theirs is not None
    assert (ours.recall, theirs.recall) == (0.0, 1.0)
    assert (ours.money[0].pending_amount, theirs.money[0].pending_amount) == (4.0, 4.0)
    # Week 46: a fraud and a pending transaction, no legitimate one: no average precision.
    weekly = [(w.average_precision, c.average_precision) for w, c in zip(
        pair.champion.weeks, pair.challenger.weeks, strict=True
    )]  # fmt: skip
    assert weekly == [(0.75, 1.0), (None, None)]


def test_with_no_mature_week_no_winner_is_named() -> None:
    # Day 9: week 45's unlabelled transactions are 6 days old, week 46 is not over.
    pair = only(run(MONDAY + 9 * DAY, *WEEK_45, *WEEK_46))
    assert pair.champion.period is None
    assert pair.challenger.period is None
    assert pair.champion.immature is not None
    assert pair.verdict.winner is None
    assert pair.verdict.difference is None
    assert pair.verdict.reason.startswith("No winner named: no week of the period is mature")


def test_pairs_are_apart_most_decisions_first() -> None:
    # Three decisions of v0 with challenger v3 in week 46, beside v1/v2's five in week 45.
    other = [
        (MONDAY + 8 * DAY, 30.0, 0.3, "approve", "fraud", "v0", "v3", 0.9, "decline"),
        (MONDAY + 9 * DAY, 8.0, 0.5, "review", "legitimate", "v0", "v3", 0.1, "approve"),
        (MONDAY + 10 * DAY, 6.0, 0.1, "approve", None, "v0", "v3", 0.2, "approve"),
    ]
    c = run(LATE, *other, *WEEK_45, *ALONE)
    assert [(p.champion_model_version, p.challenger_model_version, p.decisions) for p in c.pairs] == [
        ("v1", "v2", 5),
        ("v0", "v3", 3),
    ]  # fmt: skip
    assert (c.decisions, c.without_challenger) == (8, 2)
    first, second = c.pairs
    assert [w.decisions for w in first.champion.weeks] == [5, 0]
    assert [w.decisions for w in second.challenger.weeks] == [0, 3]
    assert first.verdict.winner == "challenger"
    # v0 ranks the fraud .3, the genuine .5 and .1: precision 1/2 at it; v3 ranks it first.
    p, q = second.champion.period, second.challenger.period
    assert p is not None
    assert q is not None
    assert (p.average_precision, q.average_precision) == (0.5, 1.0)
    assert (p.fraud, p.legitimate) == (1, 2)
    # Below the minimum of 2 frauds: the figures, no winner.
    assert second.verdict.winner is None
    assert "Too few labelled frauds to tell: 1" in second.verdict.reason
    # Pairs with as many decisions: by the versions' names.
    tied = run(LATE, *other, *[(*r[:5], "v1", "v2", r[7], r[8]) for r in WEEK_45[:3]])
    assert [p.champion_model_version for p in tied.pairs] == ["v0", "v1"]


def test_without_any_challenger_there_is_nothing_to_compare() -> None:
    assert compare(frame(*ALONE), MONDAY, UNTIL, LATE, 7.0, 4.0) is None
    assert compare(frame(), MONDAY, UNTIL, LATE, 7.0, 4.0) is None
    # A challenger outside the period does not count.
    assert compare(frame(*ALONE, *WEEK_45), MONDAY + 7 * DAY, UNTIL, LATE, 7.0, 4.0) is None
    with pytest.raises(ValueError, match="minimum of frauds"):
        compare(frame(*WEEK_45), MONDAY, UNTIL, LATE, 7.0, 4.0, 0)


def test_the_challenger_s_frame_is_the_champion_s_with_its_score_and_decision() -> None:
    rows = frame(*WEEK_45)
    theirs = challenger_frame(rows)
    assert list(theirs.columns) == list(COLUMNS)
    assert theirs["score"].tolist() == [0.95, 0.7, 0.2, 0.5, 0.1]
    assert theirs["decision"].tolist() == ["decline", "review", "approve", "review", "approve"]
    for same in ("event_time", "amount", "currency", "label"):
        assert theirs[same].equals(rows[same])


def test_the_json_form_is_plain() -> None:
    c = run(MONDAY + 19 * DAY, *WEEK_45, *WEEK_46)
    plain = orjson.loads(orjson.dumps(c.as_json()))
    assert plain["decisions"] == 7
    (pair,) = plain["pairs"]
    assert pair["verdict"]["winner"] == "challenger"
    assert pair["champion"]["model_version"] == "v1"
    assert pair["challenger"]["period"]["start"] == "2026-11-02T00:00:00Z"
    assert [w["average_precision"] for w in pair["challenger"]["weeks"]] == [1.0, None]
