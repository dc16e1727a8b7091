"""fraud demo retrains a model bundle that this version of the engine cannot serve."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson

from cli.demo import _usable_bundle


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
