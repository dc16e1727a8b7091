"""scripts/quality_protocol.py (`make quality-protocol`) end to end on a tiny history: the
`fraud` commands generate, train up to the moment read from the file and evaluate after
it; the table and the JSON are written where asked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


def protocol(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # This checkout's code first, for the script and the `fraud` commands it runs.
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return subprocess.run(
        [
            sys.executable, str(ROOT / "scripts" / "quality_protocol.py"),
            "--data", str(tmp_path / "data"), "--out", str(tmp_path / "out"), *args,
        ],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": path},
        capture_output=True, text=True, check=False, timeout=240,
    )  # fmt: skip


@pytest.mark.slow
def test_one_seed_of_a_tiny_preset_is_trained_until_and_measured_since(tmp_path: Path) -> None:
    # mixed: labels reported after about 3 days, so 24 days leave known frauds to validate on.
    done = protocol(
        tmp_path, "--presets", "mixed:800", "--seeds", "1",
        "--train-days", "24", "--scored-days", "7", "--train-arg=--trees=20",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    written = json.loads((tmp_path / "out" / "protocol.json").read_text())
    (one,) = written["runs"]
    assert one["until"] == "2026-01-25T00:00:00Z"  # the generator starts on 1 January
    assert one["trained_on"]["until"] == one["until"]
    assert set(one["figures"]) == {"engine", "small_model", "baseline"}
    assert (tmp_path / "data" / "mixed_800c_31d_s1.parquet").exists()
    evaluated = json.loads((tmp_path / "out" / "runs" / "mixed_800c_31d_s1.json").read_text())
    assert evaluated["since"] == one["until"]
    assert evaluated["rows"] == one["scored_rows"] < evaluated["rows_replayed"]
    table = (tmp_path / "out" / "protocol.md").read_text()
    assert "| `mixed` | engine |" in table
    assert "- `mixed` (1 seed), best average precision:" in table
    assert table in done.stdout + "\n"


def test_a_bad_preset_is_refused_before_anything_runs(tmp_path: Path) -> None:
    done = protocol(tmp_path, "--presets", "default")
    assert done.returncode == 2
    assert "a preset is NAME:CARDS" in done.stderr
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "data").exists()
