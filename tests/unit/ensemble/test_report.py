"""The report's first line says plainly when the engine does not beat the baseline."""

from __future__ import annotations

from typing import Any

from ensemble.comparison import side_by_side
from ensemble.report import headline


def metrics(engine: float | None, baseline: float | None) -> dict[str, Any]:
    return {
        "test_engine_vs_baseline": side_by_side(
            {"average_precision": engine}, {"average_precision": baseline}
        )
    }


def test_a_losing_or_equal_engine_is_said_first() -> None:
    lost = headline(metrics(0.436, 0.549))
    assert lost == (
        "**The engine does not beat the textbook baseline: test average precision 0.4360 "
        "against the baseline's 0.5490.**"
    )
    assert headline(metrics(0.5, 0.5)) is not None


def test_a_winning_engine_needs_no_headline() -> None:
    assert headline(metrics(0.6, 0.549)) is None


def test_an_undefined_comparison_is_not_a_win() -> None:
    text = headline(metrics(None, 0.5))
    assert text is not None
    assert "cannot be compared" in text


def test_side_by_side_says_who_wins_and_by_how_much() -> None:
    out = side_by_side({"average_precision": 0.4, "roc_auc": 0.9}, {"average_precision": 0.5})
    assert out["average_precision"] == {"engine": 0.4, "baseline": 0.5}
    assert out["roc_auc"] == {"engine": 0.9, "baseline": None}
    assert out["engine_beats_baseline"] is False
    assert out["average_precision_ratio"] == 0.8
