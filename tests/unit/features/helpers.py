from __future__ import annotations

import numpy as np
import pandas as pd

from features.definitions import FEATURE_NAMES
from features.encode import prepare_history
from features.replay import ReplayStore


def replay(frame: pd.DataFrame, label_delay_days: float = 7.0) -> pd.DataFrame:
    """Features of every row, indexed by transaction_id."""
    history = prepare_history(frame, label_delay_days)
    labels = history.frame["is_fraud"].to_numpy() if "is_fraud" in history.frame else None
    store = ReplayStore(history.tx, history.label_known_at, labels)
    matrix = store.matrix()
    return pd.DataFrame(
        matrix.astype(np.float64), columns=FEATURE_NAMES, index=history.frame["transaction_id"]
    )
