"""The lines the demo prints about its scored past: what it scored and charged back, and
the `fraud report` on the past's whole weeks, with the database's address only where the
demo started its own server (a configured one is in the environment, maybe with a
password)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from cli.demo import Baseline, past_line, report_line
from cli.demo_past import PastSummary

PAST = PastSummary(
    since=datetime(2026, 11, 9, tzinfo=UTC),
    until=datetime(2026, 12, 7, tzinfo=UTC),
    scored=95_467,
    frauds=690,
    chargebacks=531,
    tiers=Counter(low=93_000, medium=1_200, high=300, critical=967),
    seconds=45.2,
)


def test_the_report_line_names_the_past_weeks_and_the_schema() -> None:
    line = report_line(PAST, "demo_1_abc", "postgresql://postgres@127.0.0.1:5433/postgres", "x")
    assert "FRAUD_DATABASE_URL=postgresql://postgres@127.0.0.1:5433/postgres " in line
    assert "FRAUD_DATABASE_SCHEMA=demo_1_abc " in line
    assert " report --since 2026-11-09 --until 2026-12-07 --out reports/demo" in line


def test_a_configured_database_is_not_printed() -> None:
    url = "postgresql://fraud:secret@db:5432/fraud"
    line = report_line(PAST, "demo_1_abc", url, url)
    assert "secret" not in line
    assert "FRAUD_DATABASE_URL" not in line


def test_the_past_line_counts_what_was_scored_and_charged_back() -> None:
    line = past_line(PAST)
    assert "95,467 transactions from Mon 09 Nov to Sun 06 Dec" in line
    assert "2,467 flagged medium or above" in line
    assert "690 were fraud, 531 charged back since" in line
    assert "159 not reported yet" in line


def test_the_live_counts_start_at_the_traffic() -> None:
    counts = Baseline(answered_before=95_467, stored_before=95_467)
    assert counts.answered(95_527) == 60
    assert counts.stored(95_527) == 60
    assert counts.answered(None) is None
