"""The layout's promises about imports, checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
SERVICE_PACKAGES = [
    "app",
    "controls",
    "scoring",
    "persistence",
    "features",
    "ensemble",
    "live",
    "monitoring",
    "synthetic",
]


def imported_roots(package: str) -> dict[Path, set[str]]:
    found: dict[Path, set[str]] = {}
    for module in (ROOT / package).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
        found[module] = names
    return found


@pytest.mark.parametrize("package", SERVICE_PACKAGES)
def test_the_service_never_imports_the_local_servers_or_the_cli(package: str) -> None:
    """localservers/ (servers for the demo and the tests) and cli/ sit on top; nothing
    the service runs depends on them."""
    for module, names in imported_roots(package).items():
        assert not names & {"localservers", "cli", "tests", "loadtest"}, (module, names)
