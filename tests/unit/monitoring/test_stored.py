from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

from monitoring.figures import performance
from monitoring.stored import QUERY, to_frame

MONDAY = datetime(2026, 11, 2, tzinfo=UTC)


def record(hours: float, amount: float, decision: str, label: str | None) -> dict[str, object]:
    return {
        "event_time": MONDAY + timedelta(hours=hours),
        "amount": amount,
        "currency": "EUR",
        "score": 0.5,
        "decision": decision,
        "label": label,
    }


def test_fetched_chunks_become_the_frame_the_figures_read() -> None:
    # A chunk whose labels hold no `fraud` at all, and one with no label: categories differ.
    first = to_frame([record(1, 10.0, "review", "legitimate"), record(2, 5.0, "approve", None)])
    second = to_frame([record(3, 20.0, "decline", "fraud")])
    empty = to_frame([])
    assert list(first.columns) == ["event_time", "amount", "currency", "score", "decision", "label"]
    frame = pd.concat([first, second, empty], ignore_index=True)
    r = performance(frame, MONDAY, MONDAY + timedelta(days=7), MONDAY + timedelta(days=30), 7, 1)
    assert r.period is not None
    assert (r.period.decisions, r.period.fraud, r.period.legitimate) == (3, 1, 2)
    assert r.period.precision == 0.5
    assert (
        performance(empty, MONDAY, MONDAY + timedelta(days=7), MONDAY, 7, 1).weeks[0].decisions == 0
    )


def test_the_query_is_the_shared_one_with_the_report_s_columns() -> None:
    assert "SELECT d.event_time, d.amount, d.currency, d.score, d.decision, f.label" in QUERY
    assert "DISTINCT ON (scope, transaction_id)" in QUERY
