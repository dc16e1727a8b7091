"""fraud demo retrains a model bundle that this version of the engine cannot serve; what
its training logs goes to the run's log file, not between its progress bars."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import orjson
import pytest
import treelite

from cli.demo import _usable_bundle, training_log
from ensemble.native import compile_library
from tests.unit.ensemble.test_codegen import small_booster


def test_a_bundle_of_this_version_is_kept(bundle_dir: Path) -> None:
    assert _usable_bundle(bundle_dir)


def test_a_bundle_with_another_feature_set_or_schema_is_retrained(
    bundle_dir: Path, tmp_path: Path
) -> None:
    old = tmp_path / "old"
    shutil.copytree(bundle_dir, old)
    manifest = orjson.loads((old / "manifest.json").read_bytes())
    (old / "manifest.json").write_bytes(
        orjson.dumps(manifest | {"feature_names": manifest["feature_names"][:-1]})
    )
    assert not _usable_bundle(old)
    (old / "manifest.json").write_bytes(orjson.dumps(manifest | {"schema_version": 0}))
    assert not _usable_bundle(old)


def test_the_trainings_compiler_lines_go_to_the_runs_log_and_warnings_to_the_terminal(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "data" / "demo_1_abc.train.log"
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    with training_log(log):
        compile_library(treelite.frontend.from_xgboost(small_booster()[0]), tmp_path / "m.so")
        logging.getLogger("ensemble.train").warning("a warning of the training's")
    out, err = capfd.readouterr()
    assert out == ""
    assert err.strip() == "a warning of the training's"
    written = log.read_text()
    assert "INFO ensemble.codegen tl2cgen:" in written
    assert "Parallel compilation enabled" in written
    assert "a warning of the training's" in written
    assert (root.handlers, root.level) == (handlers, level)  # as it was


def test_a_training_that_logs_nothing_leaves_no_log(tmp_path: Path) -> None:
    with training_log(tmp_path / "demo.train.log"):
        pass
    assert not (tmp_path / "demo.train.log").exists()
