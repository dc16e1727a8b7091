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
        """In the order fe_path_contribs takes them."""
        return (self.left, self.right, self.feature, self.threshold, self.default_left, self.mean)

    @classmethod
    def from_xgboost_json(cls, raw: bytes) -> PathTables:
        trees = orjson.loads(raw)["learner"]["gradient_booster"]["model"]["trees"]
        parts = [_tree_tables(tree) for tree in trees]
        sizes = np.array([len(p[0]) for p in parts], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        left = np.concatenate(
            [np.where(p[0] >= 0, p[0] + o, -1) for p, o in zip(parts, offsets, strict=True)]
        )
        right = np.concatenate(
            [np.where(p[1] >= 0, p[1] + o, -1) for p, o in zip(parts, offsets, strict=True)]
        )
        return cls(
            roots=offsets.astype(np.int32),
            left=left.astype(np.int32),
            right=right.astype(np.int32),
            feature=np.concatenate([p[2] for p in parts]).astype(np.int32),
            threshold=np.concatenate([p[3] for p in parts]).astype(np.float32),
            default_left=np.concatenate([p[4] for p in parts]).astype(np.uint8),
            mean=np.concatenate([p[5] for p in parts]).astype(np.float32),
        )


def _tree_tables(tree: dict[str, Any]) -> tuple[np.ndarray, ...]:
    if any(tree.get("split_type", ())):
        raise ValueError("categorical splits are not supported by the reasons")
    left = np.asarray(tree["left_children"], dtype=np.int64)
    right = np.asarray(tree["right_children"], dtype=np.int64)
    feature = np.asarray(tree["split_indices"], dtype=np.int64)
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
    feature = np.where(leaf, 0, feature)
    default_left = np.asarray(tree["default_left"], dtype=np.uint8)
    return left, right, feature, condition, default_left, mean
