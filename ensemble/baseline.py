"""The field's textbook baseline, in every report: 15 features of its own and a plain XGBoost.

After the Fraud Detection Handbook (Le Borgne et al., "Reproducible machine learning for
credit card fraud detection", chapter 3): amount, weekend, night; per card the count and
mean amount over 1, 7 and 30 days; per merchant (the handbook's terminal) the count of
transactions and the known-fraud rate over 1, 7 and 30 days, both over windows delayed by
the label delay, as in the handbook.
Computed here from the history with pandas/numpy, not with the feature catalogue, and
trained with fixed parameters (never tuned) on the last 7 days of the train split. It is
stored in the bundle for `fraud evaluate` and the reports; it is never served.

Beside it, a small model: the same 15 features plus four generic ones (minutes since the
card's previous transaction, the amount over the card's 7- and 30-day mean, the local hour
of day), the same plain XGBoost, trained on the last three months of the train split. On
another simulator's histories it came within a few percent of the engine's 233 features:
the report shows all three, so that a feature that does not earn its place is seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import xgboost as xgb

from features.definitions import DAY_MS, MINUTE_MS
from features.encode import History
from features.schema import LABEL_COLUMN

WINDOW_DAYS: tuple[int, ...] = (1, 7, 30)
FEATURES: tuple[str, ...] = (
    "amount",
    "is_weekend",
    "is_night",
    *(f"card_{stat}_{d}d" for d in WINDOW_DAYS for stat in ("count", "mean_amount")),
    *(f"merchant_count_{d}d" for d in WINDOW_DAYS),
    *(f"merchant_fraud_rate_{d}d" for d in WINDOW_DAYS),
)
# The small model's four generic features, after the baseline's 15.
EXTRA: tuple[str, ...] = (
    "card_minutes_since_previous",
    "amount_over_card_mean_7d",
    "amount_over_card_mean_30d",
    "hour_of_day",
)
SMALL_FEATURES: tuple[str, ...] = (*FEATURES, *EXTRA)
TRAIN_DAYS = 7.0
SMALL_TRAIN_DAYS = 91.0  # three months
ROUNDS = 100
PARAMS: dict[str, Any] = {
    "objective": "binary:logistic",
    "tree_method": "hist",
    "max_depth": 4,
    "eta": 0.1,
}


def _keys(group: np.ndarray, ts: np.ndarray, pad: int) -> np.ndarray:
    """One int64 key per row, ordered by group then time, with room for `pad` ms either
    side of every time without leaving the group's range."""
    rel = ts - ts.min() + pad
    span = int(rel.max()) + pad + 1
    if (int(group.max(initial=0)) + 1) * span >= 1 << 62:
        raise ValueError("history too long or too many cards for the baseline's window keys")
    return np.asarray(group.astype(np.int64) * span + rel)


class _Windows:
    """Counts and sums over rows whose key lies in [start, end): two binary searches."""

    def __init__(self, keys: np.ndarray, values: np.ndarray) -> None:
        order = np.argsort(keys, kind="stable")
        self._keys = keys[order]
        self._cumulative = np.concatenate([[0.0], np.cumsum(values[order])])

    def count_sum(self, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lo = np.searchsorted(self._keys, start, side="left")
        hi = np.searchsorted(self._keys, end, side="left")
        return (hi - lo).astype(np.float64), self._cumulative[hi] - self._cumulative[lo]

    def since_previous(self, keys: np.ndarray, group_start: np.ndarray) -> np.ndarray:
        """Minutes from the latest strictly earlier key of the same group (a group's keys
        are at or after its `group_start`) to each of `keys`; NaN for a group's first."""
        i = np.searchsorted(self._keys, keys, side="left") - 1
        previous = self._keys[np.maximum(i, 0)]
        found = (i >= 0) & (previous >= group_start)
        return np.where(found, (keys - previous) / MINUTE_MS, np.nan)


def _known_frauds(
    keys: np.ndarray,
    ts: np.ndarray,
    fraud: np.ndarray,
    known_at: np.ndarray,
    delay: int,
    width: int,
) -> np.ndarray:
    """Per row at t, the frauds of its group in [t - delay - width, t - delay) whose label
    was known before t. A fraud at f counts for the rows at t in (f + delay, f + delay +
    width] with t > known_at, i.e. in (opens, closes]: #(opens < t) - #(closes < t)."""
    f = np.flatnonzero(fraud.astype(bool))
    origin = keys[f] - ts[f]  # key of time 0 in the fraud's group
    opens = np.maximum(ts[f] + delay, known_at[f])
    closes = ts[f] + delay + width
    live = opens < closes  # a label known only after the window passed never counts
    opened = np.sort(origin[live] + opens[live])
    closed = np.sort(origin[live] + closes[live])
    return np.asarray(
        np.searchsorted(opened, keys, side="left") - np.searchsorted(closed, keys, side="left"),
        dtype=np.float64,
    )


def feature_columns(
    ts_ms: np.ndarray,
    offset_minutes: np.ndarray,
    amount: np.ndarray,
    card: np.ndarray,
    merchant: np.ndarray,
    fraud: np.ndarray,
    label_known_at: np.ndarray,
    label_delay_ms: int,
) -> dict[str, np.ndarray]:
    """The baseline's features, by name. The card's windows are [t - w, t): they exclude
    the transaction (and any other at the same millisecond). The merchant's are delayed,
    [t - delay - w, t - delay): its count is their transactions, its fraud rate the share
    of them that are frauds whose label was known before t (a fraud not yet reported
    counts as legitimate, as it would online). card, merchant: integer codes >= 0. Every
    feature of SMALL_FEATURES (the baseline's first)."""
    pad = label_delay_ms + max(WINDOW_DAYS) * DAY_MS
    local_minutes = ts_ms // MINUTE_MS + offset_minutes
    amount = amount.astype(np.float64)
    out: dict[str, np.ndarray] = {
        "amount": amount,
        # 1970-01-01 was a Thursday: day 0 is weekday 3 (Monday = 0).
        "is_weekend": ((local_minutes // 1440 + 3) % 7 >= 5).astype(np.float64),
        "is_night": ((local_minutes // 60) % 24 <= 6).astype(np.float64),  # the handbook's
        "hour_of_day": ((local_minutes // 60) % 24).astype(np.float64),
    }
    card_keys, merchant_keys = _keys(card, ts_ms, pad), _keys(merchant, ts_ms, pad)
    cards, merchants = _Windows(card_keys, amount), _Windows(merchant_keys, np.zeros(len(ts_ms)))
    out["card_minutes_since_previous"] = cards.since_previous(
        card_keys, card_keys - (ts_ms - ts_ms.min() + pad)
    )
    for days in WINDOW_DAYS:
        w = days * DAY_MS
        count, total = cards.count_sum(card_keys - w, card_keys)
        out[f"card_count_{days}d"] = count
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(count > 0, total / count, np.nan)
            out[f"card_mean_amount_{days}d"] = mean
            if days in (7, 30):
                out[f"amount_over_card_mean_{days}d"] = np.where(mean > 0, amount / mean, np.nan)
        delayed, _ = merchants.count_sum(
            merchant_keys - label_delay_ms - w, merchant_keys - label_delay_ms
        )
        known = _known_frauds(merchant_keys, ts_ms, fraud, label_known_at, label_delay_ms, w)
        out[f"merchant_count_{days}d"] = delayed
        with np.errstate(invalid="ignore", divide="ignore"):
            out[f"merchant_fraud_rate_{days}d"] = np.where(delayed > 0, known / delayed, 0.0)
    return {name: out[name] for name in SMALL_FEATURES}


def feature_matrix(
    history: History, label_delay_days: float, names: tuple[str, ...] = FEATURES
) -> np.ndarray:
    """The features `names` (the baseline's, or the small model's) of a prepared history
    (rows in its order), float32. Card and merchant are the history's codes (the ids
    factorized: both are required)."""
    frame, tx = history.frame, history.tx
    if history.label_known_at is None or LABEL_COLUMN not in frame:
        raise ValueError("the baseline's merchant fraud rates need labels")
    columns = feature_columns(
        ts_ms=tx.ts,
        offset_minutes=tx.offset_minutes,
        amount=tx.amount,
        card=tx.code("card"),
        merchant=tx.code("merchant"),
        fraud=frame[LABEL_COLUMN].to_numpy(dtype=np.int8),
        label_known_at=history.label_known_at,
        label_delay_ms=int(label_delay_days * DAY_MS),
    )
    return np.column_stack([columns[name] for name in names]).astype(np.float32)


@dataclass(frozen=True, slots=True)
class Baseline:
    booster: xgb.Booster
    train_rows: np.ndarray  # indices into the history
    note: str
    names: tuple[str, ...] = FEATURES

    def score(self, matrix: np.ndarray) -> np.ndarray:
        return score(self.booster, matrix, self.names)


def fit(
    matrix: np.ndarray,
    y: np.ndarray,
    ts_ms: np.ndarray,
    train: np.ndarray,
    seed: int,
    threads: int,
    days: float = TRAIN_DAYS,
    names: tuple[str, ...] = FEATURES,
) -> Baseline:
    """Fit on the train rows of the last `days` days of the train split (all of the train
    split if those days hold a single class); `names`: the matrix's columns."""
    last = train[ts_ms[train] >= ts_ms[train].max() - int(days * DAY_MS)]
    note = f"the last {days:g} days of the train split"
    if y[last].min() == y[last].max():
        last = train
        note = f"the whole train split (its last {days:g} days hold a single class)"
    data = xgb.DMatrix(matrix[last], label=y[last], missing=np.nan, feature_names=list(names))
    booster = xgb.train(PARAMS | {"seed": seed, "nthread": threads}, data, num_boost_round=ROUNDS)
    return Baseline(booster, last, note, names)


def score(
    booster: xgb.Booster, matrix: np.ndarray, names: tuple[str, ...] = FEATURES
) -> np.ndarray:
    data = xgb.DMatrix(matrix, missing=np.nan, feature_names=list(names))
    return np.asarray(booster.predict(data), dtype=np.float64)
