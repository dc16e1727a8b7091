"""Load a labelled history and replay it into the feature matrix (shared by train and evaluate)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ensemble.progress import NoProgress, Progress
from features.dataset import DatasetError, read_transactions
from features.definitions import ENTITIES
from features.encode import History, prepare_history
from features.replay import ReplayStore
from features.schema import LABEL_COLUMN


@dataclass(slots=True)
class ReplayedHistory:
    history: History
    matrix: np.ndarray  # (rows, features) float32
    labels: np.ndarray  # int8
    fingerprint: str


def file_fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def replay_file(
    path: Path, label_delay_days: float, progress: Progress | None = None
) -> ReplayedHistory:
    progress = progress or NoProgress()
    frame = read_transactions(path)
    if LABEL_COLUMN not in frame:
        raise DatasetError(
            f"{path}: no {LABEL_COLUMN!r} column; training and evaluation need labels"
        )
    history = prepare_history(frame, label_delay_days)
    labels = history.frame[LABEL_COLUMN].to_numpy(dtype=np.int8)
    store = ReplayStore(history.tx, history.label_known_at, labels)
    advance = progress.task("replaying features", len(history.tx) * len(ENTITIES))
    matrix = store.matrix(advance)
    return ReplayedHistory(history, matrix, labels, file_fingerprint(path))
