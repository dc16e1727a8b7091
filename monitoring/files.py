"""The performance report's directory: report.md, report.json and the PNGs, written into a
hidden directory inside it first and moved in once all are complete, so a failed run
leaves no half-made report."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import orjson

from monitoring.figures import PerformanceReport
from monitoring.markdown import currencies, render
from monitoring.plots import write_plots

MARKDOWN = "report.md"
JSON = "report.json"


def write_report(report: PerformanceReport, out: Path) -> list[Path]:
    """Write the report into directory `out` (made if missing; same-named files replaced)
    and return the files' paths."""
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out, prefix=".report-"))
    try:
        (staging / MARKDOWN).write_text(render(report))
        (staging / JSON).write_bytes(
            orjson.dumps(report.as_json(), option=orjson.OPT_INDENT_2) + b"\n"
        )
        written = [staging / MARKDOWN, staging / JSON]
        written += write_plots(report, currencies(report), staging)
        final = []
        for path in written:
            os.replace(path, out / path.name)
            final.append(out / path.name)
        return final
    finally:
        shutil.rmtree(staging, ignore_errors=True)
