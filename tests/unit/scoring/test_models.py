"""The model holder's readiness as a metric (fraud_model_ready), which the alert rules and
the dashboard read: 0 until a compiled bundle is loaded, 0 again in a new holder; and the
drift window it swaps with the bundle."""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path

import numpy as np
import orjson
import pytest
from prometheus_client import REGISTRY

from ensemble.manifest import MANIFEST, BundleError, Manifest
from features.definitions import FEATURE_NAMES
from scoring.drift import DriftConfig
from scoring.models import ModelHolder


def ready_metric() -> float | None:
    return REGISTRY.get_sample_value("fraud_model_ready")


def test_ready_is_1_once_a_compiled_bundle_is_loaded(bundle_dir: Path) -> None:
    holder = ModelHolder(bundle_dir)
    assert ready_metric() == 0
    asyncio.run(holder.reload())
    assert holder.ready
    assert ready_metric() == 1
    ModelHolder(bundle_dir)  # a process's new holder has no bundle yet
    assert ready_metric() == 0


def test_a_failed_load_leaves_it_at_0(tmp_path: Path) -> None:
    holder = ModelHolder(tmp_path / "missing")
    with pytest.raises((BundleError, OSError)):
        asyncio.run(holder.reload())
    assert ready_metric() == 0


def test_a_reload_brings_the_bundles_reference_with_an_empty_window(bundle_dir: Path) -> None:
    holder = ModelHolder(bundle_dir, DriftConfig(min_rows=1))
    asyncio.run(holder.reload())
    first = holder.drift
    assert first is not None
    assert len(first.reference.features) == 20
    assert first.reference.rows == Manifest.read(bundle_dir).split["validation_rows"]
    first.observe(np.zeros((3, len(FEATURE_NAMES)), dtype=np.float32), np.zeros(3))
    asyncio.run(holder.reload())
    assert holder.drift is not first
    assert holder.drift is not None
    assert holder.drift.figures().rows == 0


def test_a_bundle_without_a_reference_serves_without_drift(
    bundle_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Bundles written before drift was watched still load and serve; drift is not
    exported, and the log says so once per load."""
    old = tmp_path / "old"
    shutil.copytree(bundle_dir, old)
    manifest = Manifest.read(old)
    raw = orjson.loads((old / MANIFEST).read_bytes())
    del raw["drift"]  # as written before the field existed
    (old / MANIFEST).write_bytes(orjson.dumps(raw))
    holder = ModelHolder(old, DriftConfig())
    with caplog.at_level(logging.WARNING, logger="scoring.models"):
        bundle = asyncio.run(holder.reload()).champion
    assert bundle.ready
    assert bundle.version == manifest.model_version
    assert holder.drift is None
    assert holder.drift_watched
    assert [r.getMessage() for r in caplog.records if "drift" in r.getMessage()] == [
        f"model {manifest.model_version} has no drift reference (trained before drift was "
        "watched): drift is not exported until a bundle trained with `fraud train` since is "
        "loaded"
    ]


def test_drift_off_watches_nothing(bundle_dir: Path) -> None:
    holder = ModelHolder(bundle_dir)
    asyncio.run(holder.reload())
    assert holder.drift is None
    assert not holder.drift_watched


def sample(name: str, label: str | None = None) -> float:
    labels = {} if label is None else {"outcome": label}
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_challenger_is_loaded_beside_the_champion(bundle_dir: Path, challenger_dir: Path) -> None:
    holder = ModelHolder(bundle_dir, challenger_path=challenger_dir)
    reloaded = asyncio.run(holder.reload())
    assert reloaded.champion is holder.bundle
    assert reloaded.challenger is holder.challenger
    assert holder.challenger is not None
    assert holder.challenger.version == Manifest.read(challenger_dir).model_version
    assert holder.challenger.version != holder.bundle.version
    assert reloaded.challenger_error is None
    assert sample("fraud_challenger_loaded") == 1


def test_a_challenger_that_fails_to_load_leaves_the_champion_serving(
    bundle_dir: Path, tmp_path: Path
) -> None:
    (tmp_path / "broken").mkdir()
    holder = ModelHolder(bundle_dir, challenger_path=tmp_path / "broken")
    failed = sample("fraud_model_reloads_total", "challenger_failed")
    reloaded = asyncio.run(holder.reload())
    assert holder.ready
    assert holder.challenger is None
    assert reloaded.challenger_error is not None
    assert "manifest.json" in reloaded.challenger_error
    assert sample("fraud_challenger_loaded") == 0
    assert sample("fraud_model_reloads_total", "challenger_failed") == failed + 1


def test_no_challenger_directory_yet_is_no_failure(bundle_dir: Path, tmp_path: Path) -> None:
    """Configured where a challenger will be put (the retraining procedure's symlink): the
    champion serves alone, nothing counted as failed."""
    holder = ModelHolder(bundle_dir, challenger_path=tmp_path / "challenger")
    failed = sample("fraud_model_reloads_total", "challenger_failed")
    reloaded = asyncio.run(holder.reload())
    assert holder.challenger is None
    assert reloaded.challenger_error == f"no bundle at {tmp_path / 'challenger'}"
    assert sample("fraud_model_reloads_total", "challenger_failed") == failed


def test_a_directory_holding_another_bundle_is_a_change(
    bundle_dir: Path, challenger_dir: Path, tmp_path: Path
) -> None:
    """Symlinks moved (a deploy, `fraud promote` of links) or directories exchanged (`fraud
    promote`): changed() until reloaded, and the reload brings the roles swapped."""
    current, shadow = tmp_path / "current", tmp_path / "challenger"
    current.symlink_to(bundle_dir)
    shadow.symlink_to(challenger_dir)
    holder = ModelHolder(current, challenger_path=shadow)
    asyncio.run(holder.reload())
    assert not holder.changed()
    swap = tmp_path / "swap"
    swap.symlink_to(challenger_dir)
    swap.replace(current)
    assert holder.changed()
    assert holder.bundle is not None
    old = holder.bundle.version
    reloaded = asyncio.run(holder.reload())
    assert not holder.changed()
    assert reloaded.previous == old
    assert reloaded.champion.version == Manifest.read(challenger_dir).model_version


def test_a_bundle_rewritten_in_place_is_a_change(bundle_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "bundle"
    shutil.copytree(bundle_dir, copy)
    holder = ModelHolder(copy)
    asyncio.run(holder.reload())
    manifest = (copy / MANIFEST).read_bytes()
    (copy / MANIFEST).unlink()
    assert holder.changed()  # no manifest: not what was loaded
    (copy / MANIFEST).write_bytes(manifest)  # written again: another file
    assert holder.changed()
