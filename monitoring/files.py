"""The performance report's directory: report.md, report.json and the PNGs, written into a
hidden directory inside it first and moved in once all are complete, so a failed run
leaves no half-made report."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import orjson

from monitoring.compare import Comparison
from monitoring.figures import PerformanceReport
from monitoring.markdown import currencies, render
from monitoring.plots import write_compare, write_plots

MARKDOWN = "report.md"
JSON = "report.json"


def report_json(report: PerformanceReport, comparison: Comparison | None = None) -> bytes:
    """report.json: the report's figures, and with `comparison` its `compare` key."""
    figures = report.as_json()
    if comparison is not None:
        figures["compare"] = comparison.as_json()
    return orjson.dumps(figures, option=orjson.OPT_INDENT_2) + b"\n"


def write_report(
    report: PerformanceReport, out: Path, comparison: Comparison | None = None
) -> list[Path]:
    """Write the report into directory `out` (made if missing; same-named files replaced)
    and return the files' paths; with `comparison`, the champion and the challenger too."""
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out, prefix=".report-"))
    try:
        (staging / MARKDOWN).write_text(render(report, comparison))
        (staging / JSON).write_bytes(report_json(report, comparison))
        written = [staging / MARKDOWN, staging / JSON]
        written += write_plots(report, currencies(report), staging)
        if comparison is not None:
            written.append(write_compare(comparison, staging))
        final = []
        for path in written:
            os.replace(path, out / path.name)
            final.append(out / path.name)
        return final
    finally:
        shutil.rmtree(staging, ignore_errors=True)
