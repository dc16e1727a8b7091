from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pandas as pd
import pytest

from monitoring.figures import Money, PerformanceReport, performance, period_refusal, weeks

MONDAY = datetime(2026, 11, 2, tzinfo=UTC)  # ISO week 2026-W45
DAY = timedelta(days=1)


def frame(*rows: tuple[datetime, float, str, float, str, str | None]) -> pd.DataFrame:
    return pd.DataFrame(
        rows, columns=["event_time", "amount", "currency", "score", "decision", "label"]
    )


# Week 45: three frauds (declined, reviewed, approved), a legitimate decline, two
# transactions nobody labelled (a review and an approval).
WEEK_45 = (
    (MONDAY + DAY, 100.0, "EUR", 0.9, "decline", "fraud"),
    (MONDAY + DAY, 50.0, "EUR", 0.6, "review", "fraud"),
    (MONDAY + 2 * DAY, 30.0, "EUR", 0.2, "approve", "fraud"),
    (MONDAY + 2 * DAY, 20.0, "EUR", 0.8, "decline", "legitimate"),
    (MONDAY + 3 * DAY, 10.0, "EUR", 0.5, "review", None),
    (MONDAY + 3 * DAY, 5.0, "EUR", 0.1, "approve", None),
)
# Week 46: no fraud at all.
WEEK_46 = (
    (MONDAY + 8 * DAY, 7.0, "EUR", 0.7, "review", "legitimate"),
    (MONDAY + 9 * DAY, 3.0, "EUR", 0.3, "approve", None),
    (MONDAY + 13 * DAY, 4.0, "EUR", 0.2, "approve", None),
)


def report(
    as_of: datetime, *rows: tuple[datetime, float, str, float, str, str | None]
) -> PerformanceReport:
    return performance(frame(*rows), MONDAY, MONDAY + 14 * DAY, as_of, 7.0, 4.0)


def test_a_mature_week_counts_unlabelled_decisions_as_legitimate() -> None:
    r = report(MONDAY + 30 * DAY, *WEEK_45, *WEEK_46)
    week = r.weeks[0]
    assert (week.name, week.mature, week.label_age_days) == ("2026-W45", True, 23.0)
    assert (week.decisions, week.fraud, week.legitimate, week.unlabelled, week.pending) == (
        6,
        3,
        3,
        2,
        0,
    )
    # Flagged: the two declines and the two reviews; two of them fraud.
    assert (week.flagged, week.reviews, week.declines) == (4, 2, 2)
    assert week.precision == 0.5
    assert week.recall == pytest.approx(2 / 3)
    assert week.false_positive_rate == pytest.approx(2 / 3)
    # Ranked .9 F, .8 L, .6 F, .5 L, .2 F, .1 L: precision 1, 2/3 and 3/5 at the frauds.
    assert week.average_precision == pytest.approx((1 + 2 / 3 + 3 / 5) / 3)
    assert week.review_cost == 8.0  # two reviews at 4.0
    assert week.money == (
        Money(
            currency="EUR",
            fraud_amount=180.0,
            fraud_declined=100.0,
            fraud_review=50.0,
            fraud_approved=30.0,
            legitimate_declined=20.0,
            pending_amount=0.0,
            value_detection_rate=150 / 180,
        ),
    )


def test_a_week_without_fraud_has_no_recall_nor_average_precision() -> None:
    week = report(MONDAY + 30 * DAY, *WEEK_45, *WEEK_46).weeks[1]
    assert (week.name, week.fraud, week.legitimate) == ("2026-W46", 0, 3)
    assert week.recall is None
    assert week.average_precision is None
    assert week.precision == 0.0  # one review, legitimate
    assert week.false_positive_rate == pytest.approx(1 / 3)
    assert week.money[0].value_detection_rate is None
    assert week.money[0].fraud_amount == 0.0


def test_the_period_is_the_mature_weeks_together() -> None:
    r = report(MONDAY + 30 * DAY, *WEEK_45, *WEEK_46)
    assert r.immature is None
    assert r.period is not None
    p = r.period
    assert (p.start, p.end, p.decisions, p.fraud, p.legitimate) == (
        MONDAY,
        MONDAY + 14 * DAY,
        9,
        3,
        6,
    )
    assert p.precision == pytest.approx(2 / 5)
    assert p.recall == pytest.approx(2 / 3)
    assert p.false_positive_rate == pytest.approx(3 / 6)
    assert p.review_cost == 12.0


def test_an_immature_week_is_kept_out_of_the_period_and_its_unlabelled_young_rows_pend() -> None:
    # Week 46 ends on day 14; on day 20 its transactions of day 13 are 7 days old at most.
    r = report(MONDAY + 19 * DAY, *WEEK_45, *WEEK_46)
    first, second = r.weeks
    assert first.mature
    assert not second.mature
    assert second.label_age_days == 5.0
    # Day 9's unlabelled approval is mature (10 days old), day 13's is pending.
    assert (second.legitimate, second.unlabelled, second.pending) == (2, 1, 1)
    assert second.money[0].pending_amount == 4.0
    assert r.period is not None
    assert (r.period.end, r.period.decisions) == (MONDAY + 7 * DAY, 6)
    assert r.immature is not None
    assert (r.immature.start, r.immature.decisions, r.immature.mature) == (
        MONDAY + 7 * DAY,
        3,
        False,
    )


def test_with_every_label_immature_there_is_no_headline() -> None:
    # Day 9: week 45's unlabelled transactions (day 3) are 6 days old, week 46 not over.
    r = report(MONDAY + 9 * DAY, *WEEK_45, *WEEK_46)
    assert r.period is None
    assert not any(w.mature for w in r.weeks)
    assert r.immature is not None
    # Only what was labelled counts: 3 fraud and 2 legitimate; the 4 others pend.
    assert (r.immature.fraud, r.immature.legitimate, r.immature.pending) == (3, 2, 4)
    assert r.immature.unlabelled == 0


def test_amounts_are_kept_per_currency_and_rows_outside_the_period_ignored() -> None:
    r = report(
        MONDAY + 30 * DAY,
        (MONDAY, 100.0, "EUR", 0.9, "decline", "fraud"),
        (MONDAY, 1000.0, "USD", 0.1, "approve", "fraud"),
        (MONDAY - DAY, 5000.0, "USD", 0.9, "decline", "fraud"),
        (MONDAY + 14 * DAY, 5000.0, "USD", 0.9, "decline", "fraud"),
    )
    assert r.period is not None
    assert r.period.decisions == 2
    eur, usd = r.period.money
    assert (eur.currency, eur.fraud_declined, eur.value_detection_rate) == ("EUR", 100.0, 1.0)
    assert (usd.currency, usd.fraud_approved, usd.value_detection_rate) == ("USD", 1000.0, 0.0)
    assert r.weeks[1].decisions == 0
    assert r.weeks[1].money == ()
    assert r.weeks[1].precision is None


def test_weeks_are_iso_weeks_clipped_to_the_period() -> None:
    since = MONDAY + 2 * DAY  # a Wednesday
    until = MONDAY + 15 * DAY  # the Tuesday two weeks on
    assert weeks(since, until) == [
        (since, MONDAY + 7 * DAY),
        (MONDAY + 7 * DAY, MONDAY + 14 * DAY),
        (MONDAY + 14 * DAY, until),
    ]
    r = performance(frame(), since, until, until + 30 * DAY, 7.0, 0.0)
    assert [w.name for w in r.weeks] == ["2026-W45", "2026-W46", "2026-W47"]


def test_bad_bounds_and_values_are_refused() -> None:
    with pytest.raises(ValueError, match="not after"):
        performance(frame(), MONDAY, MONDAY, MONDAY, 7.0, 0.0)
    with pytest.raises(ValueError, match="cost per review"):
        performance(frame(), MONDAY, MONDAY + DAY, MONDAY, 7.0, -1.0)
    with pytest.raises(ValueError, match="label delay"):
        performance(frame(), MONDAY, MONDAY + DAY, MONDAY, 0.0, 1.0)
    # A row a week: two years at most (a fuzzer's year 1 to 9999 took the API minutes).
    with pytest.raises(ValueError, match="covers at most 731"):
        performance(frame(), MONDAY, MONDAY + 732 * DAY, MONDAY, 7.0, 0.0)
    assert period_refusal(MONDAY, MONDAY + 731 * DAY) is None


def test_the_json_form_is_plain() -> None:
    body = report(MONDAY + 30 * DAY, *WEEK_45).as_json()
    assert body["since"] == "2026-11-02T00:00:00Z"
    assert body["weeks"][0]["money"][0]["currency"] == "EUR"
    assert orjson.loads(orjson.dumps(body)) == body
