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
        bundle = asyncio.run(holder.reload())
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
