"""The deployment protocol's pure parts: the moment a history is cut at, the figures read
from `fraud evaluate`, their spread over seeds, who won, and the Markdown table."""

from __future__ import annotations

from collections import Counter

import pytest

from ensemble.as_of import epoch_ms, shown_ms
from ensemble.protocol import (
    Preset,
    Run,
    Spread,
    aggregate,
    cut_moment,
    figures,
    spread,
    summary,
    table,
    winner,
    wins,
)
from tests.factories import T0


def run(preset: str, seed: int, engine: float | None, small: float, base: float) -> Run:
    return Run(
        preset,
        seed,
        {
            "engine": {"average_precision": engine, "roc_auc": 0.9, "recall_at_fpr_0.01": 0.5},
            "small_model": {"average_precision": small, "roc_auc": 0.8, "recall_at_fpr_0.01": 0.4},
            "baseline": {"average_precision": base, "roc_auc": 0.7, "recall_at_fpr_0.01": None},
        },
    )


RUNS = [
    run("default", 1, 0.70, 0.60, 0.50),
    run("default", 2, 0.50, 0.60, 0.40),
    run("default", 3, 0.90, 0.60, 0.30),
    run("mixed", 1, None, 0.60, 0.50),
]


def test_presets_are_name_colon_cards_and_scale_to_at_least_100() -> None:
    assert Preset.parse("terminals:10000") == Preset("terminals", 10_000)
    assert Preset.parse("default:8000").scaled(0.25) == Preset("default", 2_000)
    assert Preset.parse("default:8000").scaled(0.001).cards == 100
    for bad in ("default", "default:", ":100", "default:many", "default:0"):
        with pytest.raises(ValueError, match="NAME:CARDS"):
            Preset.parse(bad)


def test_the_moment_is_the_days_after_the_midnight_of_the_first_transaction() -> None:
    first = epoch_ms(T0)  # 2026-03-02 12:00 UTC
    assert shown_ms(cut_moment(first, 60)) == "2026-05-01T00:00:00Z"
    assert shown_ms(cut_moment(first - first % 86_400_000, 1)) == "2026-03-03T00:00:00Z"


def test_figures_are_read_for_each_model_evaluate_scored() -> None:
    evaluated = {
        "average_precision": 0.7,
        "roc_auc": 0.9,
        "recall_at_fpr_0.01": 0.5,
        "precision": 0.3,
        "baseline": {"average_precision": 0.4, "roc_auc": 0.8, "recall_at_fpr_0.01": None},
    }
    assert figures(evaluated) == {
        "engine": {"average_precision": 0.7, "roc_auc": 0.9, "recall_at_fpr_0.01": 0.5},
        "baseline": {"average_precision": 0.4, "roc_auc": 0.8, "recall_at_fpr_0.01": None},
    }


def test_the_spread_is_mean_min_and_max_of_the_seeds_that_define_it() -> None:
    assert spread([0.7, 0.5, 0.9]) == Spread(pytest.approx(0.7), 0.5, 0.9, 3)
    assert spread([None, 0.4]) == Spread(0.4, 0.4, 0.4, 1)
    assert spread([None, None]) is None
    by = aggregate(RUNS)
    assert list(by) == ["default", "mixed"]
    assert by["default"]["engine"]["average_precision"] == Spread(pytest.approx(0.7), 0.5, 0.9, 3)
    assert by["default"]["baseline"]["recall_at_fpr_0.01"] is None
    assert by["mixed"]["engine"]["average_precision"] is None


def test_a_seed_is_won_by_the_highest_average_precision_if_all_are_defined() -> None:
    assert winner(RUNS[0]) == "engine"
    assert winner(RUNS[1]) == "small_model"
    assert winner(RUNS[3]) is None  # the engine's is undefined
    assert winner(run("default", 4, 0.6, 0.6, 0.1)) is None  # a tie
    assert wins(RUNS) == {
        "default": Counter({"engine": 2, "small_model": 1}),
        "mixed": Counter({"none": 1}),
    }


def test_the_table_shows_mean_and_range_per_preset_and_model_then_who_won() -> None:
    text = table(RUNS)
    lines = text.splitlines()
    assert lines[0] == "| history | model | average precision | ROC AUC | recall at 1% FPR |"
    assert "| `default` | engine | 0.7000 (0.5000–0.9000) | 0.9000 (0.9000–0.9000) |" in text
    assert "| `default` | textbook baseline | 0.4000 (0.3000–0.5000) |" in text
    assert "| `mixed` | engine | n/a | 0.9000 | 0.5000 |" in text  # one seed: no range
    assert (
        "- `default` (3 seeds), best average precision: the engine on 2, "
        "the 19-feature model on 1." in lines
    )
    assert "- `mixed` (1 seed), best average precision: none on 1 (undefined or tied)." in lines
    assert summary(RUNS)["default"]["wins"] == {"engine": 2, "small_model": 1}
    assert summary(RUNS)["default"]["models"]["engine"]["average_precision"]["max"] == 0.9
