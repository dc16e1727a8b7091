"""`fraud promote`: both bundles checked as the API loads them, then the two directories (or
symlinks) exchanged in one rename; anything wrong changes nothing."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from app.settings import get_settings
from cli.main import cli
from cli.promote import PromoteError, promote
from ensemble.manifest import MANIFEST, Manifest


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    """Settings are read once per process: each command here reads this test's."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def models(bundle_dir: Path, challenger_dir: Path, tmp_path: Path) -> tuple[Path, Path]:
    """Two real directories, as `fraud train --out` writes them."""
    current, challenger = tmp_path / "current", tmp_path / "challenger"
    shutil.copytree(bundle_dir, current)
    shutil.copytree(challenger_dir, challenger)
    return current, challenger


def versions(*paths: Path) -> list[str]:
    return [Manifest.read(p).model_version for p in paths]


def test_promote_exchanges_the_directories_and_again_rolls_back(
    models: tuple[Path, Path],
) -> None:
    current, challenger = models
    before = versions(current, challenger)
    done = promote(current, challenger)
    assert (done.champion, done.challenger) == (before[1], before[0])
    assert versions(current, challenger) == before[::-1]
    promote(current, challenger)
    assert versions(current, challenger) == before


def test_promote_exchanges_symlinks(bundle_dir: Path, challenger_dir: Path, tmp_path: Path) -> None:
    current, challenger = tmp_path / "current", tmp_path / "challenger"
    current.symlink_to(bundle_dir)
    challenger.symlink_to(challenger_dir)
    promote(current, challenger)
    assert current.resolve() == challenger_dir.resolve()
    assert challenger.resolve() == bundle_dir.resolve()


@pytest.mark.parametrize("damage", ["missing", "no manifest", "damaged library", "same"])
def test_a_bundle_that_would_not_serve_is_never_promoted(
    models: tuple[Path, Path], damage: str
) -> None:
    current, challenger = models
    if damage == "missing":
        shutil.rmtree(challenger)
    elif damage == "no manifest":
        (challenger / MANIFEST).unlink()
    elif damage == "damaged library":
        library = challenger / Manifest.read(challenger).libraries["xgboost"].file
        library.write_bytes(library.read_bytes()[:-100])
    before = sorted(p.name for p in current.iterdir()), versions(current)
    with pytest.raises(PromoteError):
        promote(current, current if damage == "same" else challenger)
    assert (sorted(p.name for p in current.iterdir()), versions(current)) == before


def test_the_command_prints_the_versions_and_refuses_without_a_challenger(
    models: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    current, challenger = models
    before = versions(current, challenger)
    monkeypatch.setenv("FRAUD_MODEL_DIR", str(current))
    monkeypatch.delenv("FRAUD_CHALLENGER_MODEL_DIR", raising=False)
    runner = CliRunner()
    refused = runner.invoke(cli, ["promote"])
    assert refused.exit_code == 2
    assert "no challenger" in refused.output
    assert versions(current, challenger) == before
    monkeypatch.setenv("FRAUD_CHALLENGER_MODEL_DIR", str(challenger))
    get_settings.cache_clear()
    done = runner.invoke(cli, ["promote"])
    assert done.exit_code == 0, done.output
    printed = orjson.loads(done.output.strip().splitlines()[-1])
    assert printed == {"champion": before[1], "challenger": before[0]}
