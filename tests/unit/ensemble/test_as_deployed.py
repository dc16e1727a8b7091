"""Measured as deployed on a tiny history: `fraud train --until` trains on that moment's
export, `fraud evaluate --since` measures only the rows after it (the whole file replayed),
and a moment outside the history is refused with nothing written."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from cli.main import cli
from ensemble.as_of import epoch_ms
from ensemble.evaluate import evaluate
from ensemble.manifest import Manifest
from ensemble.train import TrainConfig, train
from features.dataset import read_transactions, write_transactions
from features.encode import parse_timestamps
from synthetic.generator import GeneratorConfig, generate

# Labels reported a day after the fraud on average (a label_reported_at column), so the
# as-of test split still holds known frauds.
HISTORY = GeneratorConfig(days=30, cards=1_500, seed=5, label_delay_days=1.0)
MOMENT = datetime(2026, 1, 24, tzinfo=UTC)
CFG = TrainConfig(n_estimators=30, isolation_trees=20)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("as_deployed") / "history.parquet"
    write_transactions(generate(HISTORY), path)
    return path


@pytest.fixture(scope="module")
def bundle(history: Path) -> tuple[Path, Manifest]:
    out = history.parent / "bundle"
    return out, train(history, out, CFG, until=MOMENT)


def test_train_until_learns_only_from_that_moment_s_export(
    history: Path, bundle: tuple[Path, Manifest]
) -> None:
    frame = read_transactions(history)
    ts, _ = parse_timestamps(frame["timestamp"])
    before = ts < epoch_ms(MOMENT)
    reported, _ = parse_timestamps(frame["label_reported_at"].fillna(frame["timestamp"]))
    fraud = frame["is_fraud"].to_numpy() == 1
    data = bundle[1].training_data
    assert data["until"] == "2026-01-24T00:00:00Z"
    assert data["rows"] == int(before.sum())
    late = int((before & fraud & (reported >= epoch_ms(MOMENT))).sum())
    assert late > 0
    assert data["labels_not_yet_known"] == late
    assert data["fraud_rows"] == int((before & fraud).sum()) - late
    assert bundle[1].split["boundaries"][-1] <= "2026-01-24"
    assert "As exported at 2026-01-24T00:00:00Z" in (bundle[0] / "report.md").read_text()


def test_evaluate_since_measures_only_the_rows_after(
    history: Path, bundle: tuple[Path, Manifest], tmp_path: Path
) -> None:
    frame = read_transactions(history)
    ts, _ = parse_timestamps(frame["timestamp"])
    after = ts >= epoch_ms(MOMENT)
    scores = tmp_path / "scores.csv"
    metrics: dict[str, Any] = evaluate(history, bundle[0], 7.0, scores, since=MOMENT)
    assert metrics["since"] == "2026-01-24T00:00:00Z"
    assert metrics["rows_replayed"] == len(frame)
    for measured in (metrics, metrics["baseline"], metrics["small_model"]):
        assert measured["rows"] == int(after.sum())
        assert measured["fraud_rows"] == int(frame["is_fraud"][after].sum())
    written = pd.read_csv(scores)
    assert set(written["transaction_id"]) == set(frame["transaction_id"][after])
    assert sum(v["fraud_rows"] for v in metrics["recall_by_scenario"].values()) == int(
        frame["is_fraud"][after].sum()
    )


@pytest.mark.parametrize(
    ("command", "moment", "message"),
    [
        ("train", "2025-12-01", "is not after the history's first transaction"),
        ("train", "2026-03-01", "is after the history's last transaction"),
        ("train", "soon", "neither an RFC 3339 time nor a date"),
        ("evaluate", "2026-03-01", "is after the history's last transaction"),
    ],
)
def test_a_moment_outside_the_history_is_refused_and_nothing_written(
    history: Path,
    bundle: tuple[Path, Manifest],
    tmp_path: Path,
    command: str,
    moment: str,
    message: str,
) -> None:
    out = tmp_path / "out"
    args = (
        ["train", "--data", str(history), "--out", str(out), "--until", moment]
        if command == "train"
        else [
            "evaluate", "--data", str(history), "--model", str(bundle[0]),
            "--scores-out", str(out), "--since", moment,
        ]
    )  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert list(tmp_path.iterdir()) == []
    assert "Traceback" not in result.output
