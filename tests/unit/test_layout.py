"""The layout's promises about imports: pyproject.toml's import-linter contracts, kept.

`make lint` checks them too (a pre-commit hook); this test keeps the promise where
pre-commit does not run."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[2]
# The venv's own, beside the interpreter running the tests.
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def test_the_promised_contracts_are_declared() -> None:
    """docs/architecture.md's "Allowed imports": the layers; localservers/ (servers for the
    demo and the tests), cli/, tests/ and loadtest/ sit on top, nothing the service runs
    depends on them; the vocabulary is a leaf; the scoring core knows no HTTP."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    assert {c["id"] for c in config["contracts"]} >= {
        "layers",
        "service",
        "vocabulary",
        "scoring-core",
    }


def test_lint_imports_keeps_every_contract() -> None:
    """Direct and indirect imports, those inside functions included."""
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 broken." in result.stdout, result.stdout
