from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import matplotlib.image
import orjson
import pandas as pd

from monitoring.compare import compare
from monitoring.figures import performance
from monitoring.files import write_report
from monitoring.markdown import render

MONDAY = datetime(2026, 11, 2, tzinfo=UTC)
DAY = timedelta(days=1)
ROWS = pd.DataFrame(
    [
        (MONDAY + DAY, 100.0, "EUR", 0.9, "decline", "fraud"),
        (MONDAY + DAY, 20.0, "EUR", 0.8, "review", "legitimate"),
        (MONDAY + 2 * DAY, 60.0, "USD", 0.1, "approve", "fraud"),
        (MONDAY + 9 * DAY, 5.0, "EUR", 0.2, "approve", None),
    ],
    columns=["event_time", "amount", "currency", "score", "decision", "label"],
)


def test_the_directory_holds_the_markdown_the_json_and_a_plot_per_currency(
    tmp_path: Path,
) -> None:
    # Week 46 ends on day 14: on day 17 its labels are immature.
    report = performance(ROWS, MONDAY, MONDAY + 14 * DAY, MONDAY + 17 * DAY, 7.0, 2.5)
    out = tmp_path / "report"
    written = write_report(report, out)
    names = sorted(p.name for p in written)
    assert names == [
        "business_EUR.png",
        "business_USD.png",
        "quality.png",
        "report.json",
        "report.md",
    ]
    assert sorted(p.name for p in out.iterdir()) == names  # no staging left behind
    for png in ("quality.png", "business_EUR.png", "business_USD.png"):
        height, width, _ = matplotlib.image.imread(out / png).shape
        assert width >= 600
        assert height >= 400
    assert orjson.loads((out / "report.json").read_bytes()) == report.as_json()
    markdown = (out / "report.md").read_text()
    assert "1 week(s) with immature labels** (2026-W46)" in markdown
    assert "| 2026-W46 | 2026-11-09 to 2026-11-15 | immature |" in markdown
    assert "Cost per review: 2.50" in markdown


def test_with_no_mature_week_the_markdown_says_there_is_no_headline() -> None:
    report = performance(ROWS, MONDAY, MONDAY + 14 * DAY, MONDAY + 10 * DAY, 7.0, 0.0)
    markdown = render(report)
    assert "No week of this period is mature yet" in markdown
    assert "Cost per review: not set" in markdown


# ROWS with a challenger in shadow on the first three (v2 beside v1), the last without.
SHADOWED = ROWS.assign(
    model_version="v1",
    challenger_model_version=["v2", "v2", "v2", None],
    challenger_score=[0.7, 0.9, 0.6, None],
    challenger_decision=["review", "decline", "review", None],
)


def test_with_a_comparison_the_directory_holds_its_section_key_and_plot(tmp_path: Path) -> None:
    as_of = MONDAY + 17 * DAY
    report = performance(ROWS, MONDAY, MONDAY + 14 * DAY, as_of, 7.0, 2.5)
    comparison = compare(SHADOWED, MONDAY, MONDAY + 14 * DAY, as_of, 7.0, 2.5)
    assert comparison is not None
    out = tmp_path / "report"
    written = write_report(report, out, comparison)
    assert sorted(p.name for p in written) == [
        "business_EUR.png",
        "business_USD.png",
        "compare.png",
        "quality.png",
        "report.json",
        "report.md",
    ]
    height, width, _ = matplotlib.image.imread(out / "compare.png").shape
    assert (width, height) >= (600, 400)
    figures = orjson.loads((out / "report.json").read_bytes())
    assert figures == report.as_json() | {"compare": comparison.as_json()}
    markdown = (out / "report.md").read_text()
    section = markdown[markdown.index("## Champion and challenger") :]
    assert "The 3 decisions of the period that carried a challenger" in section
    assert "1 decision(s) without a challenger" in section
    assert "### Champion v1, challenger v2 (3 decisions)" in section
    # Two frauds in the mature week: too few for a verdict.
    assert "**Too few labelled frauds to tell: 2 in the mature weeks" in section
    # v1 ranks .9 F, .8 L, .1 F: AP (1 + 2/3) / 2; v2 .9 L, .7 F, .6 F: (1/2 + 2/3) / 2.
    assert "| figure | champion v1 | challenger v2 | challenger − champion |" in section
    assert "| average precision | 0.833 | 0.583 | -0.250 |" in section
    assert "| recall | 50.0% | 100.0% | +50.0 pt |" in section
    assert "| fraud approved (missed) (USD) | 60.00 | 0.00 | -60.00 |" in section
    assert "| fraud | 2 | 2 | same decisions |" in section
    # Week 46's one decision carried no challenger: no immature figures to show.
    assert "| 2026-W46 | immature | 0 | 0 | 0 | – | – | – |" in section
    assert "Immature weeks" not in section
    assert "![weekly average precision, champion and challenger](compare.png)" in section
    assert markdown.endswith("plots: quality.png, business_<currency>.png, compare.png.\n")
    # Without a comparison, report.md is the plain report's.
    assert "Champion and challenger" not in render(report)


def test_every_point_is_inside_its_axis_with_room_above_the_highest() -> None:
    """The false-positive rate of an immature week above the mature ones' was cut in half
    at the top of its axis; a currency with nothing to draw got an axis from -0.04."""
    from monitoring.plots import headroom

    assert headroom([0.018, float("nan"), 0.025]) > 0.025 * 1.1
    assert headroom([float("nan")]) == 0.01
    assert headroom([0.0, 0.0], floor=1.0) == 1.0


def test_a_currency_with_nothing_to_draw_gets_a_plot_that_says_so(tmp_path: Path) -> None:
    from monitoring.plots import write_business

    rows = ROWS.assign(currency=["EUR", "EUR", "USD", "AUD"])  # AUD: one approved, unlabelled
    report = performance(rows, MONDAY, MONDAY + 14 * DAY, MONDAY + 30 * DAY, 7.0, 2.5)
    path = write_business(report, "AUD", tmp_path)
    assert matplotlib.image.imread(path).shape[0] > 100
