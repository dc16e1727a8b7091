"""scripts/prerequisites.sh, which `make demo` and `make test` run first: on a PATH of
stand-in programs that print chosen versions, it names everything missing or too old at
once and fails; with everything there it is silent."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
SCRIPT = ROOT / "scripts" / "prerequisites.sh"
# What the script itself runs, taken from the machine.
UTILITIES = ("bash", "grep", "sort", "head", "cut", "id", "dirname")
# Each tool's stand-in prints what the real one prints for its version.
CURRENT = {
    "python": "3.11",
    "gcc": "",
    "cargo": "",
    "rustc": "rustc 1.85.0 (4d91de4e4 2025-02-17)",
    "node": "v20.19.0",
    "npm": "",
    "go": "go version go1.22.7 linux/amd64",
    "java": 'openjdk version "17.0.15" 2025-04-15',
    "mvn": "",
    "haproxy": "",
    "chromium": "",
    "apt-get": "",
}


def run(tmp_path: Path, target: str, **tools: str | None) -> subprocess.CompletedProcess[str]:
    """The script on a PATH of stand-ins: CURRENT, changed by `tools` (None: absent)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in UTILITIES:
        found = shutil.which(name)
        assert found, name
        (bin_dir / name).symlink_to(found)
    for name, shown in (CURRENT | tools).items():
        if shown is not None:
            stand_in = bin_dir / name
            stand_in.write_text(f"#!{shutil.which('bash')}\necho '{shown}'\n")
            stand_in.chmod(0o755)
    return subprocess.run(
        ["bash", str(SCRIPT), target],
        env={"PATH": str(bin_dir), "PYTHON": "python", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("target", ["demo", "test", "test-fast"])
def test_with_everything_there_it_is_silent(tmp_path: Path, target: str) -> None:
    done = run(tmp_path, target)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_everything_missing_is_named_at_once_with_how_to_get_it(tmp_path: Path) -> None:
    done = run(tmp_path, "test", node=None, go=None, mvn=None)
    assert done.returncode == 1
    assert done.stderr.startswith("make test: missing prerequisites (nothing was built):")
    assert "node >= 20.19 and npm" in done.stderr
    assert "https://nodejs.org" in done.stderr
    assert "go >= 1.22.7" in done.stderr
    assert "java >= 17 and mvn" in done.stderr
    assert "maven" in done.stderr
    assert "cargo" not in done.stderr


@pytest.mark.parametrize(
    ("tool", "shown", "named"),
    [
        ("python", "3.10", "Python >= 3.11 as python (found 3.10)"),
        ("rustc", "rustc 1.84.1 (e71f9a9a9 2025-01-27)", "(found rustc 1.84.1)"),
        ("node", "v20.18.3", "(found node 20.18.3)"),
        ("java", 'java version "1.8.0_292"', "(found java 8)"),
        ("go", "go version go1.21.0 linux/amd64", "(found go 1.21.0)"),
    ],
)
def test_too_old_a_version_is_named_with_the_one_found(
    tmp_path: Path, tool: str, shown: str, named: str
) -> None:
    done = run(tmp_path, "test", **{tool: shown})
    assert done.returncode == 1
    assert named in done.stderr


def test_the_demo_needs_neither_go_nor_java(tmp_path: Path) -> None:
    done = run(tmp_path, "demo", go=None, java=None, mvn=None, haproxy=None)
    assert done.returncode == 0, done.stderr


def test_the_fast_tests_need_go_but_neither_java_nor_the_browser(tmp_path: Path) -> None:
    done = run(tmp_path, "test-fast", java=None, mvn=None, haproxy=None, chromium=None)
    assert (done.returncode, done.stderr) == (0, "")
    (tmp_path / "again").mkdir()
    done = run(tmp_path / "again", "test-fast", go=None)
    assert done.returncode == 1
    assert "go >= 1.22.7" in done.stderr


def test_debian_programs_pass_when_root_can_install_them(tmp_path: Path) -> None:
    done = run(tmp_path, "test", haproxy=None, chromium=None)
    if os.getuid() == 0:
        assert done.returncode == 0, done.stderr
    else:
        assert "haproxy chromium" in done.stderr
        assert "sudo apt-get install" in done.stderr


def test_this_machine_has_what_make_test_needs() -> None:
    """`make test` ran the same check before the suite; run directly, this names what the
    machine lacks."""
    done = subprocess.run(
        ["bash", str(SCRIPT), "test"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
