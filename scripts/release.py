"""`make release`: the version's wheels and image, refused unless CHANGELOG.md has an entry
for it.

    .venv/bin/python scripts/release.py [--without-image]

The version is pyproject.toml's (semantic: MAJOR.MINOR.PATCH); CHANGELOG.md must hold a
section `## [VERSION]` (Keep a Changelog's heading, with or without the date after it)
that says something. Tracked files must be committed, so the artifacts are the commit's.
It writes dist/fraud_engine-VERSION-*.whl and the kernel's wheel
dist/fraud_kernel-*.whl (built from native/ by maturin), then the image
`fraud-engine:VERSION` with Docker. Without a reachable Docker engine it says so and
exits 1 after the wheels, unless --without-image.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEMVER = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?")


class ReleaseRefused(Exception):
    pass


def version_of(pyproject: str) -> str:
    """The project's version, refused unless it is a semantic version."""
    version = str(tomllib.loads(pyproject)["project"]["version"])
    if not SEMVER.fullmatch(version):
        raise ReleaseRefused(f"pyproject.toml's version {version!r} is not MAJOR.MINOR.PATCH")
    return version


def changelog_entry(changelog: str, version: str) -> str:
    """The text of CHANGELOG.md's section for `version` (up to the next `## `), refused
    when there is none or it is empty."""
    heading = re.compile(rf"^## \[{re.escape(version)}\](?: - \d{{4}}-\d{{2}}-\d{{2}})?\s*$", re.M)
    found = heading.search(changelog)
    if found is None:
        raise ReleaseRefused(
            f"CHANGELOG.md has no section '## [{version}] - YYYY-MM-DD': move the "
            "Unreleased changes under it (what changed for users: API, settings, formats, "
            "migrations), then release"
        )
    rest = changelog[found.end() :]
    following = re.search(r"^## ", rest, re.M)
    body = rest[: following.start() if following else len(rest)].strip()
    if not body:
        raise ReleaseRefused(f"CHANGELOG.md's section for {version} is empty")
    return body


def uncommitted() -> list[str]:
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return status.stdout.splitlines()


def docker_engine() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "info"], capture_output=True, check=False)
    return probe.returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--without-image", action="store_true")
    args = parser.parse_args()
    try:
        version = version_of((ROOT / "pyproject.toml").read_text())
        changelog_entry((ROOT / "CHANGELOG.md").read_text(), version)
        if changed := uncommitted():
            raise ReleaseRefused("commit these first:\n  " + "\n  ".join(changed))
    except ReleaseRefused as exc:
        sys.exit(f"make release: refused: {exc}")
    dist = ROOT / "dist"
    shutil.rmtree(dist, ignore_errors=True)  # only this version's wheels in it
    bin_dir = Path(sys.executable).parent
    subprocess.run(
        [bin_dir / "maturin", "build", "--release", "--locked", "--manifest-path",
         "native/Cargo.toml", "--interpreter", sys.executable, "--out", dist],
        cwd=ROOT,
        check=True,
    )  # fmt: skip
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", dist, "."],
        cwd=ROOT,
        check=True,
    )
    for wheel in sorted(dist.glob("*.whl")):
        print(f"wheel: {wheel.relative_to(ROOT)}")
    tag = f"fraud-engine:{version}"
    if not docker_engine():
        message = (
            f"image: not built, no Docker engine answers here (`docker info` failed); on a "
            f"machine with one: docker build -t {tag} ."
        )
        if args.without_image:
            print(message)
            return
        sys.exit(message)
    subprocess.run(["docker", "build", "-t", tag, "."], cwd=ROOT, check=True)
    print(f"image: {tag}")


if __name__ == "__main__":
    main()
