"""requirements.lock pins every dependency pyproject.toml declares (all extras), at a
version the declaration accepts: a dependency added without `make lock` fails here. A
dependency built from this repository (tool.uv.sources, a path: the feature kernel) is not
locked; its declared version is the one its own project builds."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement

ROOT = Path(__file__).parents[2]


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if "==" in line and not line.lstrip().startswith("#"):
            name, version = line.split("==", 1)
            pins[canonical(name.strip())] = version.strip()
    return pins


def pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def local_sources() -> dict[str, Path]:
    """Dependencies built from a folder of this repository, by canonical name."""
    sources = pyproject()["tool"]["uv"]["sources"]
    return {canonical(name): ROOT / source["path"] for name, source in sources.items()}


def declared() -> list[Requirement]:
    project = pyproject()["project"]
    specs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        specs += extra
    return [r for r in map(Requirement, specs) if canonical(r.name) != "fraud-engine"]


def test_every_declared_dependency_is_locked_at_an_accepted_version() -> None:
    pins = locked()
    local = local_sources()
    for requirement in declared():
        name = canonical(requirement.name)
        if name in local:
            assert name not in pins, f"{name} is built from {local[name]}: not locked"
            continue
        assert name in pins, f"{requirement.name} is not in requirements.lock: run `make lock`"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"requirements.lock pins {name}=={pins[name]}, outside {requirement}: run `make lock`"
        )


def test_the_feature_kernel_is_declared_at_the_version_its_folder_builds() -> None:
    """`make install` builds native/ and installs that wheel before the package, which
    requires it: the two versions must agree or the install fails."""
    local = local_sources()
    assert "fraud-kernel" in local
    folder = local["fraud-kernel"]
    built = tomllib.loads((folder / "pyproject.toml").read_text())["project"]["version"]
    crate = tomllib.loads((folder / "Cargo.toml").read_text())["package"]["version"]
    assert built == crate
    (requirement,) = [r for r in declared() if canonical(r.name) == "fraud-kernel"]
    assert requirement.specifier.contains(built), f"{requirement} does not accept {built}"
    assert (folder / "Cargo.lock").exists(), "the kernel's crates are pinned by Cargo.lock"
