from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import matplotlib.image
import orjson
import pandas as pd

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
