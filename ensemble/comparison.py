"""Side-by-side figures: the engine against the textbook baseline, and a new bundle against
the one in service, on the same rows."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ensemble.bundle import ModelBundle
from ensemble.manifest import BundleError, Manifest
from ensemble.quality import COMPARED, fraud_metrics
from features.definitions import FEATURE_NAMES


def side_by_side(
    engine: dict[str, Any], other: dict[str, Any], names: tuple[str, str] = ("engine", "baseline")
) -> dict[str, Any]:
    """Each compared metric of both, and whether the first beats the second on average
    precision (None where it is undefined)."""
    first, second = names
    out: dict[str, Any] = {
        k: {first: engine.get(k), second: other.get(k)} for k in COMPARED if k in engine
    }
    a, b = engine.get("average_precision"), other.get("average_precision")
    out[f"{first}_beats_{second}"] = None if a is None or b is None else a > b
    out["average_precision_ratio"] = a / b if a is not None and b else None
    return out


def _unscorable(manifest: Manifest) -> str | None:
    """Why an old bundle cannot score rows of the current feature set, or None."""
    if tuple(manifest.feature_names) != FEATURE_NAMES:
        old, new = set(manifest.feature_names), set(FEATURE_NAMES)
        added, removed = sorted(new - old), sorted(old - new)
        return (
            f"it was trained on another feature set ({len(old)} features against "
            f"{len(new)} now; {len(added)} added, {len(removed)} removed"
            f"{', e.g. added ' + ', '.join(added[:3]) if added else ''}"
            f"{', e.g. removed ' + ', '.join(removed[:3]) if removed else ''}), "
            "so it cannot be scored on these rows"
        )
    return None


def score_previous(
    path: Path,
    matrix: np.ndarray,
    y: np.ndarray,
    amount: np.ndarray,
    card: np.ndarray,
    ts_ms: np.ndarray,
) -> dict[str, Any]:
    """The bundle at `path` (the one in service) on these rows, with its own thresholds:
    {"scored": True, "metrics": ...} or {"scored": False, "reason": ...}. Never raises
    for a bundle that cannot be used: the new bundle's report says why instead."""
    out: dict[str, Any] = {"path": str(path)}
    try:
        manifest = Manifest.read(path)
    except BundleError as exc:
        return out | {"scored": False, "reason": str(exc)}
    except (OSError, ValueError, TypeError, KeyError) as exc:  # BundleError is a ValueError
        return out | {"scored": False, "reason": f"unreadable manifest.json: {exc!r}"}
    reason = _unscorable(manifest)
    if reason is not None:
        return out | {"scored": False, "reason": reason}
    out |= {"model_version": manifest.model_version, "created_at": manifest.created_at}
    boundaries = manifest.split.get("boundaries", [])
    if len(boundaries) == 4:
        # Everything before its test split was trained or validated on.
        seen_until = datetime.fromisoformat(boundaries[2])
        out["seen_until"] = seen_until.isoformat()
        first = datetime.fromtimestamp(int(ts_ms.min()) / 1000, UTC) if len(ts_ms) else None
        out["saw_these_rows"] = bool(first is not None and seen_until > first)
    try:
        bundle = ModelBundle.load(path)
    except (BundleError, OSError, ValueError) as exc:
        return out | {"scored": False, "reason": f"it cannot be loaded: {exc}"}
    scores = bundle.score(matrix)
    metrics = fraud_metrics(y, scores.score, amount, bundle.thresholds, card, ts_ms)
    return out | {
        "scored": True,
        "combination": bundle.combination.describe(),
        "metrics": metrics,
    }
