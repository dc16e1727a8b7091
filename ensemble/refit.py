"""Refit before shipping: once every choice is made on validation, the shipped XGBoost
learns again from every row whose label is known at training time.

The held-back model (trained on the train split only) is what the report measures: its
validation made every choice (rows' weights, regularisation, trees, how the forest
enters) and its test figures are honest. The refit keeps those choices and adds what the
held-back model never saw: the validation and test weeks, the freshest fraud. Its own
figures cannot be measured on rows it learned from, so its thresholds are calibrated on
the rows after it: the last label-delay days, whose labels are not yet known (a fraud
there may not be reported), scored out of sample. `fraud evaluate --since` on the weeks
after the file measures both the same way (docs/model-quality.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ensemble.as_of import shown_ms
from features.definitions import DAY_MS

# Fewer rows than this after the refit's rows, not known to be fraud, and the tiers could
# not be calibrated on them: a refit is refused rather than calibrated on its own rows.
MIN_RECENT_ROWS = 1_000


class RefitError(ValueError):
    """A refit that would have to calibrate on rows it learned from."""


@dataclass(frozen=True, slots=True)
class RefitRows:
    rows: slice  # what the refit learns from: the train split's start to the labels' maturity
    recent: slice  # after them, to the history's end: out of sample, for the thresholds
    mature_until_ms: int  # rows before this have the label they will keep

    def as_dict(self, ts_ms: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
        return {
            "rows": self.rows.stop - self.rows.start,
            "fraud_rows": int(labels[self.rows].sum()),
            "from": shown_ms(int(ts_ms[self.rows.start])),
            "until": shown_ms(self.mature_until_ms),
            "recent_rows": self.recent.stop - self.recent.start,
        }


def refit_rows(
    ts_ms: np.ndarray, train_start: int, labels: np.ndarray, label_delay_days: float
) -> RefitRows:
    """The rows of a history in event-time order (`ts_ms`) a refit learns from: from the
    train split's first row to the last whose label had `label_delay_days` to arrive
    before the history ends. The rest are `recent`."""
    mature_until = int(ts_ms[-1]) + 1 - int(label_delay_days * DAY_MS)
    stop = int(np.searchsorted(ts_ms, mature_until, side="left"))
    recent = slice(stop, len(ts_ms))
    unlabelled = int((labels[recent] == 0).sum())
    if stop <= train_start or unlabelled < MIN_RECENT_ROWS:
        raise RefitError(
            f"a refit needs at least {MIN_RECENT_ROWS:,} rows in the last {label_delay_days:g} "
            f"days (the label delay) to calibrate its tiers on rows it did not learn from; "
            f"this history has {unlabelled:,}: train without --refit"
        )
    return RefitRows(slice(train_start, stop), recent, mature_until)
