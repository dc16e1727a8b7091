"""Node tables for Saabas path attributions, read from the XGBoost model file.

A reason is a feature that pushed the score up. Its weight is xgboost's
`approx_contribs` (Saabas): along a row's path through each tree, the feature of
every split is credited with the change of the node's expected value (the
hessian-weighted mean of the leaves below it). The walk itself runs in the
compiled library (`fe_path_contribs`, ensemble/native.py); xgboost's own
implementation costs about 0.3 ms per call plus 25 us per row, more than the
whole ensemble.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

# The node arrays, in the order fe_path_contribs takes them, and their element types.
NODE_DTYPES = {
    "left": np.int32,
    "right": np.int32,
    "feature": np.int32,
    "threshold": np.float32,
    "default_left": np.uint8,
    "mean": np.float32,
}


@dataclass(frozen=True, slots=True)
class PathTables:
    """Every tree's nodes, concatenated; children are global node indices, -1 at leaves."""

    roots: np.ndarray  # int32, first node of each tree
    left: np.ndarray  # int32
    right: np.ndarray  # int32
    feature: np.ndarray  # int32
    threshold: np.ndarray  # float32: a value below it goes left
    default_left: np.ndarray  # uint8: where a missing value goes
    mean: np.ndarray  # float32: expected value of the node (the leaf value at a leaf)

    def node_arrays(self) -> tuple[np.ndarray, ...]:
        return tuple(getattr(self, name) for name in NODE_DTYPES)

    @classmethod
    def from_xgboost_json(cls, raw: bytes) -> PathTables:
        trees = [
            _tree_tables(tree)
            for tree in orjson.loads(raw)["learner"]["gradient_booster"]["model"]["trees"]
        ]
        roots = np.cumsum([0] + [len(t["left"]) for t in trees[:-1]])
        for tree, first in zip(trees, roots, strict=True):  # children become global indices
            for side in ("left", "right"):
                tree[side] = np.where(tree[side] >= 0, tree[side] + first, -1)
        return cls(
            roots=roots.astype(np.int32),
            **{
                name: np.concatenate([t[name] for t in trees]).astype(dtype)
                for name, dtype in NODE_DTYPES.items()
            },
        )


def _tree_tables(tree: dict[str, Any]) -> dict[str, np.ndarray]:
    """One tree's node arrays, children as indices within the tree."""
    if any(tree.get("split_type", ())):
        raise ValueError("categorical splits are not supported by the reasons")
    left = np.asarray(tree["left_children"], dtype=np.int64)
    right = np.asarray(tree["right_children"], dtype=np.int64)
    condition = np.asarray(tree["split_conditions"], dtype=np.float32)
    hessian = np.asarray(tree["sum_hessian"], dtype=np.float32)
    leaf = left < 0
    # xgboost's FillNodeMeanValues, in float32 as there: a leaf's value is its output
    # (stored in split_conditions); children always have higher ids than their parent.
    mean = np.where(leaf, condition, np.float32(0)).astype(np.float32)
    for n in np.flatnonzero(~leaf)[::-1]:
        mean[n] = (mean[left[n]] * hessian[left[n]] + mean[right[n]] * hessian[right[n]]) / hessian[
            n
        ]
    return {
        "left": left,
        "right": right,
        "feature": np.where(leaf, 0, np.asarray(tree["split_indices"], dtype=np.int64)),
        "threshold": condition,
        "default_left": np.asarray(tree["default_left"], dtype=np.uint8),
        "mean": mean,
    }
