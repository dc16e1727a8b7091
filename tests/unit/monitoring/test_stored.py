from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

from monitoring.compare import COMPARE_COLUMNS, compare
from monitoring.figures import performance
from monitoring.stored import COMPARE_QUERY, QUERY, to_frame

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


def shadowed(hours: float, version: str | None, score: float | None) -> dict[str, object]:
    return record(hours, 10.0, "review", "fraud") | {
        "model_version": "v1",
        "challenger_model_version": version,
        "challenger_score": score,
        "challenger_decision": None if version is None else "approve",
    }


def test_only_the_comparison_reads_the_challenger_s_columns() -> None:
    # The plain report reads what it read before; --compare the four columns more.
    assert "challenger" not in QUERY
    assert "model_version" not in QUERY
    assert (
        "d.decision, d.model_version, d.challenger_model_version, d.challenger_score, "
        "d.challenger_decision, f.label"
    ) in COMPARE_QUERY
    frame = pd.concat(
        [
            to_frame([shadowed(1, "v2", 0.25), shadowed(2, None, None)], challenger=True),
            to_frame([], challenger=True),
        ],
        ignore_index=True,
    )
    assert list(frame.columns) == list(COMPARE_COLUMNS)
    assert frame["challenger_model_version"].tolist()[0] == "v2"
    assert frame["challenger_model_version"].isna().tolist() == [False, True]
    assert frame["challenger_score"].tolist()[0] == 0.25
    assert frame["challenger_score"].isna().tolist() == [False, True]
    c = compare(frame, MONDAY, MONDAY + timedelta(days=7), MONDAY + timedelta(days=30), 7, 1)
    assert c is not None
    assert (c.decisions, c.without_challenger) == (1, 1)
