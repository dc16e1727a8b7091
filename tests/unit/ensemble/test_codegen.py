"""Compiling prints nothing on the terminal: tl2cgen's own lines (a version warning from
its copy of Treelite, an info line) are logged, at INFO; anything else it says would be a
warning, and a failed generation raises with what it said."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import treelite
import xgboost as xgb

from ensemble.codegen import generate_c_code, level
from ensemble.native import CompiledForest, compile_library


def small_booster() -> tuple[xgb.Booster, np.ndarray]:
    """Ten trees on five features, and rows to score: a model compiled in a second."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 5)).astype(np.float32)
    y = (x[:, 0] + rng.normal(scale=0.5, size=400) > 0).astype(int)
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 3}, xgb.DMatrix(x, label=y), 10
    )
    return booster, x


def test_compiling_writes_nothing_to_the_terminal_and_logs_tl2cgens_lines(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    booster, x = small_booster()
    library = tmp_path / "model.so"
    with caplog.at_level(logging.INFO, logger="ensemble.codegen"):
        compile_library(treelite.frontend.from_xgboost(booster), library, threads=2)

    # Nothing on stdout or stderr, at the file-descriptor level (native code writes there).
    assert capfd.readouterr() == ("", "")
    said = [r for r in caplog.records if r.name == "ensemble.codegen"]
    assert any("Parallel compilation enabled" in r.getMessage() for r in said), said
    assert all(r.levelno == logging.INFO for r in said), said
    compiled = CompiledForest(library, 5, None)
    np.testing.assert_allclose(compiled.predict(x), booster.predict(xgb.DMatrix(x)), atol=1e-5)


def test_a_line_tl2cgen_does_not_always_print_is_a_warning() -> None:
    version = (
        "[16:50:51] /tmp/x/treelite-src/src/serializer.cc:202: The model you are loading"
        " originated from a newer Treelite version; some functionalities may be unavailable."
    )
    assert level(version) == logging.INFO
    assert level("Currently running Treelite version 4.1.2") == logging.INFO
    assert level("[16:50:52] split.cc:35: Parallel compilation enabled; 2 units.") == logging.INFO
    assert level("UserWarning: something new") == logging.WARNING


def test_a_failed_generation_raises_with_what_it_said(tmp_path: Path) -> None:
    broken = tmp_path / "broken.treelite"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(RuntimeError, match="code generation failed") as failed:
        generate_c_code(broken, tmp_path / "src", parallel_comp=1)
    assert "Traceback" in str(failed.value)  # the child's own error, not only its status
