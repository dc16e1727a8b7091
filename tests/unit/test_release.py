"""scripts/release.py (`make release`): a version is released only with a CHANGELOG.md
section of its own that says something, from committed files; before building anything."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).parents[2]


def release() -> ModuleType:
    spec = importlib.util.spec_from_file_location("release", ROOT / "scripts" / "release.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CHANGELOG = """# Changelog

## Unreleased

### Added

- something not released yet

## [1.2.0] - 2026-12-07

### Changed

- **Key format 5.** What an operator does when upgrading.

## [1.1.0] - 2026-11-01

## [1.0.0] - 2026-10-01

- The first.
"""


def test_a_version_with_its_own_section_is_released_with_that_text() -> None:
    r = release()
    assert r.changelog_entry(CHANGELOG, "1.2.0").startswith("### Changed")
    assert r.changelog_entry(CHANGELOG, "1.0.0") == "- The first."


@pytest.mark.parametrize(
    ("version", "why"),
    [
        ("1.3.0", "no section '## [1.3.0]"),  # only under Unreleased
        ("1.1.0", "section for 1.1.0 is empty"),
        ("1.2", "no section"),
    ],
)
def test_a_version_without_a_section_that_says_something_is_refused(version: str, why: str) -> None:
    r = release()
    with pytest.raises(r.ReleaseRefused, match=re.escape(why)):
        r.changelog_entry(CHANGELOG, version)


@pytest.mark.parametrize("version", ["1.2", "v1.2.0", "01.2.0", "1.2.0.dev1"])
def test_the_version_must_be_semantic(version: str) -> None:
    r = release()
    with pytest.raises(r.ReleaseRefused, match=r"MAJOR\.MINOR\.PATCH"):
        r.version_of(f'[project]\nname = "x"\nversion = "{version}"\n')
    assert r.version_of('[project]\nversion = "0.1.0"\n') == "0.1.0"


def test_make_release_refuses_this_checkouts_version_before_building(tmp_path: Path) -> None:
    """The repository's own state: 0.1.0 has no section yet (its changes are Unreleased),
    so the script stops with the reason and writes no dist/."""
    copy = tmp_path / "repo"
    copy.mkdir()
    for name in ("pyproject.toml", "CHANGELOG.md"):
        shutil.copy(ROOT / name, copy / name)
    (copy / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "release.py", copy / "scripts" / "release.py")
    subprocess.run(["git", "init", "-q"], cwd=copy, check=True)
    done = subprocess.run(
        [sys.executable, "scripts/release.py"], cwd=copy, capture_output=True, text=True
    )
    version = release().version_of((ROOT / "pyproject.toml").read_text())
    if f"## [{version}]" in (ROOT / "CHANGELOG.md").read_text():
        pytest.skip(f"{version} has its section: this checkout is a release")
    assert done.returncode == 1
    assert f"refused: CHANGELOG.md has no section '## [{version}]" in done.stderr
    assert not (copy / "dist").exists()
