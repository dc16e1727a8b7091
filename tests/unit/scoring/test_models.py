"""The model holder's readiness as a metric (fraud_model_ready), which the alert rules and
the dashboard read: 0 until a compiled bundle is loaded, 0 again in a new holder."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from ensemble.manifest import BundleError
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
