"""`fraud train --ablate-feature`: a name that is not a feature is refused before any work."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from cli.main import cli


def test_a_misspelt_feature_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    result = CliRunner().invoke(
        cli,
        [
            "train",
            "--data",
            str(tmp_path / "absent.parquet"),
            "--out",
            str(out),
            "--ablate-feature",
            "amount",
            "--ablate-feature",
            "card_count_1y",
        ],
    )
    assert result.exit_code == 2
    assert "card_count_1y" in result.output
    assert not out.exists()
