"""`fraud export`'s period bounds: RFC 3339 with an offset, or a date at UTC midnight."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from cli.export import parse_moment


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2026-11-20", datetime(2026, 11, 20, tzinfo=UTC)),
        ("2026-11-20T09:30:00Z", datetime(2026, 11, 20, 9, 30, tzinfo=UTC)),
        (
            "2026-11-20T09:30:00.5+01:00",
            datetime(2026, 11, 20, 9, 30, 0, 500_000, tzinfo=timezone(timedelta(hours=1))),
        ),
    ],
)
def test_times_and_dates_are_read(text: str, moment: datetime) -> None:
    assert parse_moment(text) == moment


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2026-11-20T09:30:00", "no UTC offset"),
        ("yesterday", "neither an RFC 3339 time nor a date"),
        ("2026-13-01", "neither an RFC 3339 time nor a date"),
    ],
)
def test_other_text_is_refused_saying_why(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_moment(text)
