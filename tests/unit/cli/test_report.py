"""`fraud report`'s refusals: bad bounds, option values or an unreachable database exit 2
with the reason and write nothing (the report itself: tests/integration/test_report.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import cli


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["report", *args])
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--since", "2026-11-09", "--until", "2026-11-02"], "is not after --since"),
        (["--since", "2026-11-02", "--until", "2026-11-02"], "is not after --since"),
        (
            ["--since", "2024-01-01", "--until", "2026-11-02"],
            "a report covers at most 731 (two years",
        ),
        (["--since", "last week", "--until", "2026-11-02"], "neither an RFC 3339 time"),
        (["--since", "2026-11-02T00:00:00", "--until", "2026-11-09"], "no UTC offset"),
        (
            ["--since", "2026-11-02", "--until", "2026-11-09", "--cost-per-review", "-1"],
            "Invalid value",
        ),
        (
            ["--since", "2026-11-02", "--until", "2026-11-09", "--cost-per-review", "five"],
            "Invalid value",
        ),
    ],
)
def test_bad_input_is_refused_and_nothing_written(
    tmp_path: Path, args: list[str], reason: str
) -> None:
    out = tmp_path / "report"
    code, output = run(*args, "--out", str(out))
    assert code == 2
    assert reason in output
    assert not out.exists()


def test_an_out_that_is_a_file_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "report.md"
    out.write_text("mine")
    code, output = run("--since", "2026-11-02", "--until", "2026-11-09", "--out", str(out))
    assert (code, out.read_text()) == (2, "mine")
    assert "is a file" in output


def test_an_unreachable_database_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRAUD_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    out = tmp_path / "report"
    code, output = run("--since", "2026-11-02", "--until", "2026-11-09", "--out", str(out))
    assert code == 2
    assert "unreachable" in output
    assert not out.exists()


def test_compare_with_an_unreachable_database_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRAUD_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    out = tmp_path / "report"
    code, output = run(
        "--since", "2026-11-02", "--until", "2026-11-09", "--out", str(out), "--compare"
    )
    assert code == 2
    assert "unreachable" in output
    assert not out.exists()
