"""The report's first line says plainly when the engine does not beat the baseline."""

from __future__ import annotations

from typing import Any

from ensemble.comparison import side_by_side
from ensemble.report import headline


def metrics(
    engine: float | None, baseline: float | None, small: float | str | None = "absent"
) -> dict[str, Any]:
    out = {
        "test_engine_vs_baseline": side_by_side(
            {"average_precision": engine}, {"average_precision": baseline}
        )
    }
    if small != "absent":
        out["test_engine_vs_small_model"] = side_by_side(
            {"average_precision": engine}, {"average_precision": small}, ("engine", "small_model")
        )
    return out


def test_the_first_line_says_who_won() -> None:
    assert headline(metrics(0.71, 0.55, 0.69)) == (
        "**The engine wins: test average precision 0.7100 against the 19-feature model's "
        "0.6900 and the textbook baseline's 0.5500.**"
    )
    assert headline(metrics(0.68, 0.55, 0.69)) == (
        "**The engine does not beat the 19-feature model: test average precision 0.6800 "
        "against the 19-feature model's 0.6900 and the textbook baseline's 0.5500.**"
    )


def test_a_bundle_from_before_the_small_model_names_the_baseline_only() -> None:
    lost = headline(metrics(0.436, 0.549))
    assert lost == (
        "**The engine does not beat the textbook baseline: test average precision 0.4360 "
        "against the textbook baseline's 0.5490.**"
    )
    assert headline(metrics(0.6, 0.549)).startswith("**The engine wins")


def test_a_tie_is_not_a_win() -> None:
    assert "does not beat" in headline(metrics(0.5, 0.4, 0.5))


def test_an_undefined_comparison_is_not_a_win() -> None:
    for undefined in (metrics(None, 0.5), metrics(0.5, 0.4, None)):
        assert "cannot be compared" in headline(undefined)


def test_side_by_side_says_who_wins_and_by_how_much() -> None:
    out = side_by_side({"average_precision": 0.4, "roc_auc": 0.9}, {"average_precision": 0.5})
    assert out["average_precision"] == {"engine": 0.4, "baseline": 0.5}
    assert out["roc_auc"] == {"engine": 0.9, "baseline": None}
    assert out["engine_beats_baseline"] is False
    assert out["average_precision_ratio"] == 0.8
