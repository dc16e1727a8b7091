"""`fraud rules backtest` on a file: the report on stdout, bad input refused with exit 2."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from cli.main import cli
from features.dataset import write_transactions
from tests.unit.controls.test_backtest import history


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["rules", "backtest", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "history.csv"
    write_transactions(history(), path)
    return path


def test_the_report_is_printed_as_json(data: Path) -> None:
    code, out, _ = run(
        "--data", str(data), "--condition", "card_count_24h >= 3", "--action", "decline",
        "--since", "2026-11-20T02:30:00Z",
    )  # fmt: skip
    assert code == 0
    report = orjson.loads(out)
    assert (report["rows"], report["hits"], report["hits_fraud"]) == (4, 3, 2)
    assert report["decision_changes"] == {"approve": {"decline": 3}}
    assert report["since"] == "2026-11-20T02:30:00Z"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--condition", "amout > 1"], "--condition: unknown name 'amout' at 0"),
        (["--condition", "amount > 1", "--action", "block"], "'block' is not one of"),
        (["--condition", "true", "--since", "yesterday"], "neither an RFC 3339 time"),
        (["--condition", "true", "--since", "2026-11-21", "--until", "2026-11-20"], "not after"),
        (["--condition", "xgboost > 0.5"], "no xgboost"),
    ],
)
def test_bad_input_is_refused(data: Path, args: list[str], words: str) -> None:
    code, out, err = run("--data", str(data), *args)
    assert code == 2
    assert out == ""
    assert words in err


def test_a_missing_file(tmp_path: Path) -> None:
    code, _, err = run("--data", str(tmp_path / "none.csv"), "--condition", "true")
    assert code == 2
    assert "no such file" in err
