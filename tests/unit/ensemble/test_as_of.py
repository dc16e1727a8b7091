"""A history cut at a moment: the rows after it dropped, the frauds reported after it
labelled legitimate (as that day's export shows them), and moments outside refused."""

from __future__ import annotations

import pytest

from ensemble.as_of import EPOCH, as_of, epoch_ms, rows_since, shown_ms
from features.encode import History, prepare_history
from tests.factories import T0, frame, stamp, tx

DAY = 86_400.0  # seconds, for tx()
MOMENT_MS = epoch_ms(T0) + 10 * 86_400_000  # day 10


def history() -> History:
    return prepare_history(
        frame(
            tx(1, 0, is_fraud=1),  # known on day 7 (the label delay): stays fraud
            tx(2, 1 * DAY, is_fraud=1, label_reported_at=stamp(9 * DAY)),  # reported before
            tx(3, 2 * DAY, is_fraud=1, label_reported_at=stamp(12 * DAY)),  # reported after
            tx(4, 5 * DAY, is_fraud=1),  # known on day 12 by the delay: not yet
            tx(5, 6 * DAY, is_fraud=1, label_reported_at=stamp(10 * DAY)),  # at the moment
            tx(6, 8 * DAY),
            tx(7, 10 * DAY, is_fraud=1),  # at the moment: dropped
            tx(8, 11 * DAY),  # after: dropped
        ),
        7.0,
    )


def test_rows_at_or_after_the_moment_are_dropped() -> None:
    cut = as_of(history(), MOMENT_MS)
    ids = cut.history.frame["transaction_id"].tolist()
    assert ids == ["t1", "t2", "t3", "t4", "t5", "t6"]
    assert len(cut.history.tx) == 6
    assert cut.history.label_known_at is not None
    assert len(cut.history.label_known_at) == 6
    assert (cut.history.tx.ts < MOMENT_MS).all()


def test_a_fraud_reported_after_the_moment_becomes_legitimate_one_reported_before_stays() -> None:
    cut = as_of(history(), MOMENT_MS)
    labels = dict(
        zip(cut.history.frame["transaction_id"], cut.history.frame["is_fraud"], strict=True)
    )
    assert labels == {"t1": 1, "t2": 1, "t3": 0, "t4": 0, "t5": 0, "t6": 0}
    assert cut.labels_not_yet_known == 3  # t3 (report), t4 (delay), t5 (reported that ms)


def test_the_history_given_is_not_changed() -> None:
    whole = history()
    as_of(whole, MOMENT_MS)
    assert whole.frame["is_fraud"].tolist() == [1, 1, 1, 1, 1, 0, 1, 0]
    assert len(whole.tx) == 8


@pytest.mark.parametrize(
    ("days", "message"),
    [(0, "not after the history's first transaction"), (12, "after the history's last")],
)
def test_a_moment_outside_the_history_is_refused(days: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        as_of(history(), epoch_ms(T0) + int(days * 86_400_000))


def test_rows_since_are_those_at_or_after_the_moment() -> None:
    ts = history().tx.ts
    assert rows_since(ts, MOMENT_MS) == slice(6, 8)
    with pytest.raises(ValueError, match=r"--since .* after the history's last"):
        rows_since(ts, int(ts[-1]) + 1)


def test_times_are_shown_in_utc() -> None:
    assert shown_ms(0) == "1970-01-01T00:00:00Z"
    assert epoch_ms(EPOCH) == 0
    assert shown_ms(epoch_ms(T0)) == "2026-03-02T12:00:00Z"
