"""The review queue's pure parts: which decisions open cases, the cursor, the page queries."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.queue_metrics import QueueGauges
from persistence.cases import (
    REVIEW_ONLY,
    BadCursor,
    CaseFilter,
    CasePolicy,
    decode_cursor,
    encode_cursor,
)
from tests.cursors import cursor_of

AT = datetime(2026, 11, 28, 12, tzinfo=UTC)


def test_review_always_opens_a_case_and_decline_only_by_setting() -> None:
    assert REVIEW_ONLY.decisions == {"review"}
    assert CasePolicy.of(False) == REVIEW_ONLY
    assert CasePolicy.of(True).decisions == {"review", "decline"}


def test_a_cursor_comes_back_as_it_was_made_for_its_order_only() -> None:
    cursor = encode_cursor("opened", AT, 42)
    assert decode_cursor(cursor, "opened") == (AT, 42)
    assert cursor == cursor_of(["opened", AT.isoformat(), 42])
    with pytest.raises(BadCursor, match="another order"):
        decode_cursor(cursor, "resolved")


@pytest.mark.parametrize(
    "value",
    [
        ["opened", "2026-11-28T12:00:00", 1],  # naive
        ["opened", "9999-12-31T23:59:59-23:59", 1],  # outside years 1-9999 in UTC
        ["opened", AT.isoformat(), 0],
        ["opened", AT.isoformat(), 2**63],
        ["opened", AT.isoformat(), "1"],
        ["opened", AT.isoformat(), True],
        ["opened", AT.isoformat()],
        {"opened": 1},
    ],
)
def test_cursors_this_api_did_not_issue_are_refused(value: object) -> None:
    with pytest.raises(BadCursor):
        decode_cursor(cursor_of(value), "opened")


def test_the_open_queue_pages_oldest_first() -> None:
    query, args = CaseFilter(assignee="kim", after=(AT, 7), limit=10).sql()
    assert query == (
        "SELECT id, card_id, status, assignee, risk_tier, opened_at, updated_at, "
        "first_transaction_at, last_transaction_at, transaction_count, total_amount, verdict, "
        "note, resolved_by, resolved_at FROM cases WHERE status <> 'closed' AND assignee = $1 "
        "AND (opened_at, id) > ($2, $3) ORDER BY opened_at ASC, id ASC LIMIT $4"
    )
    assert args == ["kim", AT, 7, 11]


def test_closed_cases_page_newest_resolved_first() -> None:
    query, args = CaseFilter(status="closed", risk_tier="high").sql()
    assert query.endswith(
        "FROM cases WHERE status = $1 AND risk_tier = $2 ORDER BY resolved_at DESC, id DESC LIMIT $3"
    )
    assert args == ["closed", "high", 51]
    assert CaseFilter(status="closed").order == "resolved"
    assert CaseFilter(status="assigned").order == "opened"


def test_the_count_matches_the_filters_over_all_pages() -> None:
    """The page's position (cursor) and size do not change what is counted."""
    query, args = CaseFilter(assignee="kim", after=(AT, 7), limit=10).count_sql()
    assert query == "SELECT count(*) FROM cases WHERE status <> 'closed' AND assignee = $1"
    assert args == ["kim"]
    query, args = CaseFilter(status="closed", risk_tier="high").count_sql()
    assert query == "SELECT count(*) FROM cases WHERE status = $1 AND risk_tier = $2"
    assert args == ["closed", "high"]


def test_the_queue_gauges_are_left_out_without_a_database() -> None:
    gauges = QueueGauges()
    assert list(gauges.collect()) == []
    assert [m.name for m in gauges.describe()] == [
        "fraud_cases_open",
        "fraud_case_oldest_open_age_seconds",
    ]
