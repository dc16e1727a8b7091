"""Load a labelled history, ready to replay into the feature matrix (shared by train and
evaluate). Nothing is replayed here: the matrix of a whole history (about 0.93 KB a row)
is computed in the parts each step reads (ensemble/chunks.py)."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from ensemble.as_of import as_of
from features.dataset import DatasetError, read_transactions
from features.encode import History, prepare_history
from features.replay import ReplayStore
from features.schema import LABEL_COLUMN

# The file's columns train and evaluate read once the history is encoded (history.tx holds
# what the features and the baseline read): the ids written beside evaluate's scores, the
# labels, the generator's scenarios. The others, strings mostly, are dropped: 0.19 GB a
# million rows.
KEPT_COLUMNS = ("transaction_id", LABEL_COLUMN, "scenario")


@dataclass(slots=True)
class LabelledHistory:
    history: History
    store: ReplayStore  # the model's float32 matrix of any range of rows: store.matrix(rows=)
    labels: np.ndarray  # int8
    fingerprint: str
    # Fraud rows labelled 0 because their label was not yet known at `until` (load_labelled).
    labels_not_yet_known: int = 0


def file_fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_labelled(
    path: Path, label_delay_days: float, until_ms: int | None = None
) -> LabelledHistory:
    """until_ms: the history as exported at that moment (ensemble/as_of.py), as a team
    training then would have had it; None: the whole file."""
    frame = read_transactions(path)
    if LABEL_COLUMN not in frame:
        raise DatasetError(
            f"{path}: no {LABEL_COLUMN!r} column; training and evaluation need labels"
        )
    history = prepare_history(frame, label_delay_days)
    del frame
    history = dataclasses.replace(
        history, frame=history.frame[[c for c in KEPT_COLUMNS if c in history.frame]]
    )
    not_yet_known = 0
    if until_ms is not None:
        cut = as_of(history, until_ms)
        history, not_yet_known = cut.history, cut.labels_not_yet_known
    # Arrow keeps the pages of the file's columns for reuse; nothing else reads a file now.
    pa.default_memory_pool().release_unused()
    labels = history.frame[LABEL_COLUMN].to_numpy(dtype=np.int8)
    store = ReplayStore(history.tx, history.label_known_at, labels)
    return LabelledHistory(history, store, labels, file_fingerprint(path), not_yet_known)
