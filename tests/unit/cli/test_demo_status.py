"""The demo's live line fits the terminal, the answered and stored counts always on it; its
last line counts every decision the API answered, the demo's traffic's or anyone's."""

from __future__ import annotations

from collections import Counter

import pytest

from cli.demo_status import Snapshot, closing, render


def demo(degraded: int = 0, errors: int = 0) -> Snapshot:
    """The issue's run as it ended."""
    return Snapshot(
        rate=50.0,
        p50_ms=3.1,
        p99_ms=9.2,
        tiers=Counter(low=15_230, medium=1_002, high=201, critical=202),
        answered=16_635,
        degraded=degraded,
        errors=errors,
        stored=16_637,
    )


def busy(degraded: int = 0, errors: int = 0) -> Snapshot:
    """A long run's numbers, at their widest."""
    return Snapshot(
        rate=1_234.5,
        p50_ms=123.4,
        p99_ms=999.9,
        tiers=Counter(low=1_234_567, medium=12_345, high=2_345, critical=1_234),
        answered=1_250_491,
        degraded=degraded,
        errors=errors,
        stored=1_250_480,
    )


def test_a_wide_terminal_gets_every_part_as_a_log_does() -> None:
    line = render(demo(), 200)
    assert line == render(demo())
    assert line == (
        "  50.0 req/s  p50   3.1 ms  p99   9.2 ms  |  low 15,230 medium 1,002 high 201"
        " critical 202  |  degraded 0  errors 0  |  answered 16,635  stored 16,637"
    )


def test_80_columns_keep_answered_and_stored_and_the_most_telling_parts() -> None:
    """The line was cut before answered and stored."""
    assert render(demo(), 80) == (
        "  50.0 req/s | l/m/h/c 15,230/1,002/201/202 | answered 16,635  stored 16,637"
    )
    assert render(demo(degraded=3, errors=7), 80) == (
        "  50.0 req/s | degraded 3  errors 7 | answered 16,635  stored 16,637"
    )


@pytest.mark.parametrize("width", [200, 160, 120, 100, 80, 60, 40, 20])
def test_every_width_keeps_answered_and_stored(width: int) -> None:
    for snapshot in (demo(), demo(degraded=3), busy(), busy(degraded=3, errors=7)):
        line = render(snapshot, width)
        kept = f"answered {snapshot.answered:,}  stored {snapshot.stored:,}"
        assert line.endswith(kept)
        assert len(line) <= width or line == kept
        if snapshot.degraded and len(line) > len(kept) + len(" | 1234.5 req/s"):
            assert f"degraded {snapshot.degraded}" in line  # before the tiers and p99


def test_a_run_that_stored_every_answer_says_so() -> None:
    assert closing(16_635, 16_635, 16_635) == (
        "decisions answered: 16,635; rows stored in PostgreSQL: 16,635 (all stored)"
    )


def test_answers_to_other_callers_are_counted_with_the_traffics() -> None:
    """Two calls by hand during the run once gave "16,635 answered; 16,637 stored (-2 NOT
    stored)": the API's own count has them."""
    assert closing(16_637, 16_635, 16_637) == (
        "decisions answered: 16,637 (the demo's traffic got 16,635); rows stored in"
        " PostgreSQL: 16,637 (all stored)"
    )
    assert closing(16_637, 16_635, 16_630) == (
        "decisions answered: 16,637 (the demo's traffic got 16,635); rows stored in"
        " PostgreSQL: 16,630 (7 NOT stored)"
    )


def test_rows_beyond_the_count_are_never_a_negative_loss() -> None:
    assert closing(16_635, 16_635, 16_637) == (
        "decisions answered: 16,635; rows stored in PostgreSQL: 16,637 (all stored, and 2"
        " more: answers the count missed)"
    )
    assert closing(None, 16_635, 16_637) == (
        "decisions answered: 16,635 (the demo's traffic; the API's own count could not be"
        " read); rows stored in PostgreSQL: 16,637 (all stored, and 2 more: answers the"
        " count missed)"
    )
