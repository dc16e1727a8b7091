"""Which bundles a release reads: a field added by a later release of the same manifest
schema is kept aside (the bundle serves); another schema is refused, by name."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest

from ensemble.bundle import ModelBundle
from ensemble.manifest import MANIFEST, SCHEMA_VERSION, BundleError, Manifest


def rewrite(directory: Path, **changes: object) -> None:
    raw = orjson.loads((directory / MANIFEST).read_bytes())
    (directory / MANIFEST).write_bytes(orjson.dumps(raw | changes))


def test_a_field_added_later_is_kept_aside_and_the_bundle_serves(
    bundle_dir: Path, tmp_path: Path
) -> None:
    later = tmp_path / "later"
    shutil.copytree(bundle_dir, later)
    rewrite(later, calibration_report={"bins": 10})
    manifest = Manifest.read(later)
    assert manifest.extra["calibration_report"] == {"bins": 10}
    assert ModelBundle.load(later).ready


@pytest.mark.parametrize("version", [SCHEMA_VERSION - 1, SCHEMA_VERSION + 1, None])
def test_another_schema_is_refused_by_name(
    bundle_dir: Path, tmp_path: Path, version: int | None
) -> None:
    other = tmp_path / "other"
    shutil.copytree(bundle_dir, other)
    rewrite(other, schema_version=version)
    with pytest.raises(BundleError, match=f"schema version {version}, this version reads"):
        Manifest.read(other)
