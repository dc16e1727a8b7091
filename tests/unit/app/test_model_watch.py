"""The model watch: a directory that holds another bundle is reloaded; one that fails to load
is not tried again until it changes again, and the previous bundles keep serving."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
from prometheus_client import REGISTRY

from app.model_watch import ModelWatch
from ensemble.manifest import Manifest
from features.definitions import FEATURE_NAMES
from scoring.drift import DriftConfig
from scoring.models import ModelHolder


def failed_reloads() -> float:
    return REGISTRY.get_sample_value("fraud_model_reloads_total", {"outcome": "failed"}) or 0.0


def point(link: Path, target: Path) -> None:
    """Move the symlink in one rename, as a deploy does."""
    new = link.with_name(link.name + ".new")
    new.symlink_to(target)
    new.replace(link)


def test_the_watch_reloads_a_changed_directory_and_skips_a_broken_one_until_it_changes(
    bundle_dir: Path, challenger_dir: Path, tmp_path: Path
) -> None:
    current = tmp_path / "current"
    current.symlink_to(bundle_dir)
    models = ModelHolder(current)
    watch = ModelWatch(models, 1.0)

    async def run() -> None:
        await models.reload()
        await watch.step()  # nothing changed
        assert watch.reloads == 0
        point(current, challenger_dir)
        await watch.step()
        assert watch.reloads == 1
        assert models.bundle is not None
        assert models.bundle.version == Manifest.read(challenger_dir).model_version

        broken = tmp_path / "broken"
        broken.mkdir()
        point(current, broken)
        failed = failed_reloads()
        await watch.step()
        await watch.step()  # the same broken directory: not tried again
        assert failed_reloads() == failed + 1
        assert models.bundle.version == Manifest.read(challenger_dir).model_version
        point(current, bundle_dir)
        await watch.step()
        assert watch.reloads == 2
        assert models.bundle.version == Manifest.read(bundle_dir).model_version

    asyncio.run(run())


def test_a_challenger_put_in_place_leaves_the_champion_and_its_drift_window_as_they_are(
    bundle_dir: Path, challenger_dir: Path, tmp_path: Path
) -> None:
    shadow = tmp_path / "challenger"
    models = ModelHolder(bundle_dir, DriftConfig(min_rows=1), challenger_path=shadow)
    watch = ModelWatch(models, 1.0)

    async def run() -> None:
        await models.reload()
        champion, window = models.bundle, models.drift
        assert window is not None
        window.observe(np.zeros((3, len(FEATURE_NAMES)), dtype=np.float32), np.zeros(3))
        shadow.symlink_to(challenger_dir)
        await watch.step()
        assert models.challenger is not None
        assert models.challenger.version == Manifest.read(challenger_dir).model_version
        assert models.bundle is champion
        assert models.drift is window
        assert window.figures().rows == 3

    asyncio.run(run())
