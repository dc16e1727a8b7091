"""The command line from a fresh directory: generate, train, evaluate, and refusals of bad input."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

FRAUD = str(Path(sys.executable).with_name("fraud"))


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FRAUD, *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


def test_generate_train_evaluate(tmp_path: Path, bundle_dir: Path) -> None:
    gen = run(
        "generate", "--days", "30", "--cards", "2000", "--seed", "3", "--out", "h.csv", cwd=tmp_path
    )
    assert gen.returncode == 0, gen.stderr
    train = run(
        "train",
        "--data",
        "h.csv",
        "--out",
        "model",
        "--trees",
        "50",
        "--compare-with",
        str(bundle_dir),
        cwd=tmp_path,
    )
    assert train.returncode == 0, train.stderr
    bundle = tmp_path / "model"
    for name in (
        "manifest.json",
        "report.md",
        "pr_curve.png",
        "score_histogram.png",
        "xgboost.so",
        "isolation_forest.so",
        "xgboost.json",
        "isolation_forest.tl",
        "baseline.json",
        "small_model.json",
    ):
        assert (bundle / name).stat().st_size > 0, name
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["schema_version"] == 2
    assert manifest["combination"]["kind"] in {"weights", "stacker"}
    chosen = manifest["selection"]["chosen"]
    assert f"ensemble: {chosen}; test average precision" in train.stderr
    assert "(19-feature model 0." in train.stderr
    assert ", textbook baseline 0." in train.stderr
    assert manifest["metrics"]["previous_bundle"]["scored"] is True
    assert "## Against the bundle in service (test)" in (bundle / "report.md").read_text()
    assert (
        manifest["thresholds"]["medium"]
        <= manifest["thresholds"]["high"]
        <= manifest["thresholds"]["critical"]
    )
    assert len(manifest["training_data"]["sha256"]) == 64
    assert set(manifest["metrics"]["test"]) >= {
        "average_precision",
        "roc_auc",
        "recall_at_fpr_0.01",
        "recall_at_fpr_0.02",
        "precision",
        "recall",
        "f1",
        "false_positive_rate",
        "value_detection_rate",
        "tier_counts",
    }

    gen2 = run(
        "generate",
        "--days",
        "14",
        "--cards",
        "1000",
        "--seed",
        "4",
        "--out",
        "fresh.parquet",
        cwd=tmp_path,
    )
    assert gen2.returncode == 0, gen2.stderr
    ev = run(
        "evaluate",
        "--data",
        "fresh.parquet",
        "--model",
        "model",
        "--scores-out",
        "scores.csv",
        cwd=tmp_path,
    )
    assert ev.returncode == 0, ev.stderr
    metrics = json.loads(ev.stdout)
    assert metrics["model_version"] == manifest["model_version"]
    assert 0 <= metrics["average_precision"] <= 1
    assert 0 <= metrics["baseline"]["average_precision"] <= 1
    assert metrics["baseline"]["rows"] == metrics["rows"]
    assert metrics["comparison"]["average_precision"] == {
        "engine": metrics["average_precision"],
        "baseline": metrics["baseline"]["average_precision"],
    }
    assert metrics["small_model"]["rows"] == metrics["rows"]
    assert metrics["comparison_small_model"]["average_precision"] == {
        "engine": metrics["average_precision"],
        "small_model": metrics["small_model"]["average_precision"],
    }
    with (tmp_path / "scores.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == metrics["rows"]
    assert set(rows[0]) == {"transaction_id", "score", "risk_tier"}
    assert {r["risk_tier"] for r in rows} <= {"low", "medium", "high", "critical"}


def test_bad_input_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_text("transaction_id,amount\nt1,5\n")
    out = run("train", "--data", "bad.csv", "--out", "model", cwd=tmp_path)
    assert out.returncode == 2
    assert "missing required columns" in out.stderr
    assert not (tmp_path / "model").exists()
    assert not (tmp_path / "model.partial").exists()

    missing = run("evaluate", "--data", "bad.csv", "--model", "nowhere", cwd=tmp_path)
    assert missing.returncode == 2
    assert "manifest.json" in missing.stderr

    nowhere = run(
        "train", "--data", "bad.csv", "--out", "model", "--compare-with", "nowhere", cwd=tmp_path
    )
    assert nowhere.returncode == 2
    assert "nowhere" in nowhere.stderr


@pytest.mark.parametrize(
    "args", [["generate", "--days", "0", "--out", "x.csv"], ["generate", "--out", "x.txt"]]
)
def test_generate_refuses_bad_options(tmp_path: Path, args: list[str]) -> None:
    out = run(*args, cwd=tmp_path)
    assert out.returncode == 2
    assert not (tmp_path / "x.csv").exists()
