"""The demo's live line fits the terminal, the answered and stored counts always on it;
both it and the last line count every decision the API answered, the demo's traffic's or
anyone's (its own count, in /metrics)."""

from __future__ import annotations

import asyncio
import io
from collections import Counter

import pytest
from rich.console import Console

from cli.demo_counts import answered_in
from cli.demo_status import Snapshot, closing, render, show_status, snapshot
from cli.traffic import ReplayReport


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
    for shown in (demo(), demo(degraded=3), busy(), busy(degraded=3, errors=7)):
        line = render(shown, width)
        kept = f"answered {shown.answered:,}  stored {shown.stored:,}"
        assert line.endswith(kept)
        assert len(line) <= width or line == kept
        if shown.degraded and len(line) > len(kept) + len(" | 1234.5 req/s"):
            assert f"degraded {shown.degraded}" in line  # before the tiers and p99


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


def test_the_live_line_counts_the_answers_the_last_line_counts() -> None:
    """Two calls by hand: the traffic got 16,635 answers, the API gave 16,637. The live
    line said 16,635 until the end, then the last line 16,637; both now read the API's."""
    report = ReplayReport(statuses=Counter({200: 16_635}), latencies_ms=[3.0] * 16_635)
    line = render(snapshot(report, 16_600, 1.0, 16_637, 16_637), 80)
    assert line.endswith("answered 16,637  stored 16,637")
    assert len(line) <= 80
    assert closing(16_637, 16_635, 16_637).startswith("decisions answered: 16,637 ")


def test_a_count_that_cannot_be_read_is_a_question_mark() -> None:
    report = ReplayReport(statuses=Counter({200: 5}), latencies_ms=[3.0] * 5)
    assert render(snapshot(report, 0, 1.0, None, None), 80).endswith("answered ?  stored ?")
    assert render(snapshot(report, 0, 1.0, None, 5), 20) == "answered ?  stored 5"


def test_the_line_reads_both_counts_at_each_refresh() -> None:
    report = ReplayReport(statuses=Counter({200: 10}), latencies_ms=[3.0] * 10)
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=80)

    async def run() -> None:
        done = asyncio.Event()

        async def answered() -> int:
            done.set()  # one refresh, then stop
            return 12

        async def stored() -> int:
            return 11

        await show_status(report, answered, stored, console, done, plain_every_s=0.01)

    asyncio.run(run())
    assert out.getvalue().rstrip().endswith("answered 12  stored 11")


def test_the_api_count_is_its_score_latency_observations() -> None:
    exposition = (
        "# TYPE fraud_score_latency_seconds histogram\n"
        'fraud_score_latency_seconds_bucket{le="+Inf"} 16637.0\n'
        "fraud_score_latency_seconds_count 16637.0\n"
        "fraud_score_latency_seconds_sum 51.2\n"
    )
    assert answered_in(exposition) == 16_637
