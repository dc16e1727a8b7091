"""`fraud generate`: presets, flags over them, and refusals that write nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import cli
from features.dataset import read_transactions


def fraud(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["generate", *args])
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--mix", "skimming=1"], "unknown scenario(s) ['skimming']"),
        (["--mix", "card_testing"], "SCENARIO=WEIGHT"),
        (["--mix", "card_testing=-2"], "fraud_mix['card_testing']"),
        (["--preset", "huge"], "unknown preset 'huge'"),
        (["--merchants", "3"], "merchants must be >= 24"),
    ],
)
def test_bad_flags_exit_2_and_write_nothing(tmp_path: Path, flags: list[str], message: str) -> None:
    out = tmp_path / "h.csv"
    code, output = fraud("--out", str(out), "--days", "2", "--cards", "200", *flags)
    assert code == 2
    assert message in output
    assert not out.exists()


def test_flags_override_the_preset(tmp_path: Path) -> None:
    out = tmp_path / "h.parquet"
    code, output = fraud(
        "--out", str(out), "--preset", "terminals", "--days", "3", "--cards", "300",
        "--mix", "low_signal=0", "--mix", "card_testing=0", "--label-delay-days", "2",
    )  # fmt: skip
    assert code == 0, output
    rows = read_transactions(out)
    assert rows["card_id"].nunique() <= 300
    assert rows["timestamp"].str[:10].max() <= "2026-01-04"
    assert not {"low_signal", "card_testing"} & set(rows["scenario"])
    assert (rows["label_reported_at"].notna() == (rows["is_fraud"] == 1)).all()
