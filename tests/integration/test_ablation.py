"""`fraud train --ablate` on a tiny history: every group refitted without its features, in
the manifest and the report, and the summary script reading the bundle. No servers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from ensemble.ablation import EARNS, HELPS, NOISE, groups
from ensemble.manifest import Manifest
from ensemble.train import TrainConfig, train
from features.dataset import write_transactions
from synthetic.generator import GeneratorConfig, generate
from tests.bars import Bars

ROOT = Path(__file__).resolve().parents[2]
TINY = GeneratorConfig(days=30, cards=1_500, seed=3)
ABLATE = TrainConfig(
    n_estimators=20, isolation_trees=20, shap_rows=200, ablate=True, ablate_features=("amount",)
)
GROUPS = [*(g.name for g in groups()), "amount"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Bars]:
    """The bundle, named as the summary script expects, and the bars its training showed."""
    work = tmp_path_factory.mktemp("ablation")
    data = work / "tiny.parquet"
    write_transactions(generate(TINY), data)
    out, bars = work / "ablation_tiny_s7", Bars()
    train(data, out, ABLATE, bars)
    return out, bars


@pytest.fixture(scope="module")
def bundle(trained: tuple[Path, Bars]) -> Path:
    return trained[0]


def test_every_fit_of_the_ablation_shows_a_bar_that_ends(trained: tuple[Path, Bars]) -> None:
    bars = trained[1]
    fits = [b.description for b in bars.made if b.description.startswith("ablation: ")]
    assert fits[0] == "ablation: all features, seed + 1"
    assert fits[1:] == [f"ablation: without {g}" for g in GROUPS]
    assert bars.unfinished() == []


def test_the_manifest_records_every_group_against_the_chosen_model(bundle: Path) -> None:
    manifest = Manifest.read(bundle)
    a = manifest.ablation
    assert (
        a["full_validation_average_precision"]
        == (manifest.search["trials"][manifest.search["chosen"]]["validation_average_precision"])
    )
    assert [g["group"] for g in a["groups"]] == GROUPS
    assert a["groups"][-1]["kind"] == "feature"
    assert a["seed_noise"]["seed"] == ABLATE.seed + 1
    for g in a["groups"]:
        assert g["delta"] == pytest.approx(
            g["validation_average_precision"] - a["full_validation_average_precision"]
        )
        assert g["verdict"] in {EARNS, NOISE, HELPS}
        assert 1 <= g["trees"] <= ABLATE.n_estimators


def test_the_report_ranks_the_groups_by_effect(bundle: Path) -> None:
    report = (bundle / "report.md").read_text()
    section = report.split("## Ablation by feature family (validation)")[1].split("\n## ")[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    deltas = [float(row.split(" | ")[3]) for row in rows[1:]]
    assert len(deltas) == len(GROUPS)
    assert deltas == sorted(deltas)
    assert "Earn their place:" in section


def test_a_manifest_from_before_the_ablation_still_reads(bundle: Path, tmp_path: Path) -> None:
    raw = orjson.loads((bundle / "manifest.json").read_bytes())
    del raw["ablation"]
    (tmp_path / "manifest.json").write_bytes(orjson.dumps(raw))
    assert Manifest.read(tmp_path).ablation == {}


def test_the_summary_script_reads_the_bundle(bundle: Path) -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "ablation_summary.py"), str(bundle)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    lines = run.stdout.splitlines()
    assert lines[0] == "| group | tiny | earns its place on |"
    assert len([line for line in lines if line.startswith("| ")]) == 2 + len(GROUPS)
