"""The textbook baseline's own features on hand-made frames, and against a direct count."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ensemble import baseline
from features.definitions import DAY_MS, HOUR_MS
from features.encode import prepare_history
from tests.factories import frame, stamp, tx

DAY = 86_400.0  # seconds, for tx()


def features(
    rows: pd.DataFrame, delay_days: float = 7.0, names: tuple[str, ...] = baseline.FEATURES
) -> pd.DataFrame:
    history = prepare_history(rows, delay_days)
    return pd.DataFrame(
        baseline.feature_matrix(history, delay_days, names).astype(np.float64),
        columns=names,
        index=history.frame["transaction_id"],
    )


def test_there_are_the_handbook_s_fifteen_features() -> None:
    assert len(baseline.FEATURES) == 15
    assert len(set(baseline.FEATURES)) == 15


def test_the_small_model_adds_four_generic_features_after_the_fifteen() -> None:
    assert baseline.SMALL_FEATURES[:15] == baseline.FEATURES
    assert len(baseline.SMALL_FEATURES) == 19


def test_the_small_models_features_look_only_at_the_cards_past() -> None:
    f = features(
        frame(
            tx(1, 0, amount=10.0),
            tx(2, 2 * 3600, amount=30.0),
            tx(3, 2 * 3600, amount=70.0),  # the same millisecond as t2: not its previous
            tx(4, 2 * DAY, amount=55.0),
            tx(5, 3600, amount=999.0, card_id="card_b"),  # another card's first
        ),
        names=baseline.SMALL_FEATURES,
    )
    gap = f["card_minutes_since_previous"]
    assert np.isnan(gap["t1"])
    assert np.isnan(gap["t5"])
    assert gap["t2"] == gap["t3"] == 120.0
    assert gap["t4"] == 2 * 24 * 60 - 120
    assert np.isnan(f.loc["t1", "amount_over_card_mean_7d"])  # no past: no mean
    assert f.loc["t2", "amount_over_card_mean_7d"] == 3.0  # 30 over t1's 10
    assert f.loc["t4", "amount_over_card_mean_30d"] == pytest.approx(55.0 / 110.0 * 3)
    # The local hour of day: t2 is two hours after t1.
    hours = f["hour_of_day"]
    assert ((hours >= 0) & (hours <= 23)).all()
    assert hours["t2"] == (hours["t1"] + 2) % 24


def test_card_counts_and_means_end_at_the_transaction_and_exclude_it() -> None:
    f = features(
        frame(
            tx(1, 0, amount=10.0),
            tx(2, 2 * 3600, amount=30.0),
            tx(3, DAY + 3600, amount=50.0),  # 1 d window from t1 + 1 h: t2 only
            tx(4, DAY + 3600, amount=70.0),  # the same millisecond as t3: neither sees the other
            tx(5, 10 * DAY, amount=5.0),
            tx(6, 3600, amount=999.0, card_id="card_b"),  # another card's
        )
    )
    assert f.loc["t1", "card_count_1d"] == 0
    assert np.isnan(f.loc["t1", "card_mean_amount_1d"])
    assert f.loc["t2", "card_count_1d"] == 1
    assert f.loc["t2", "card_mean_amount_1d"] == 10.0
    for t in ("t3", "t4"):
        assert f.loc[t, "card_count_1d"] == 1
        assert f.loc[t, "card_mean_amount_1d"] == 30.0
        assert f.loc[t, "card_count_7d"] == 2
        assert f.loc[t, "card_mean_amount_7d"] == 20.0
    assert f.loc["t5", "card_count_7d"] == 0  # t3 and t4 are 8.96 days back
    assert f.loc["t5", "card_count_30d"] == 4
    assert f.loc["t5", "card_mean_amount_30d"] == pytest.approx((10 + 30 + 50 + 70) / 4)
    assert f.loc["t6", "card_count_30d"] == 0


def test_the_merchant_s_windows_are_delayed_and_count_only_labels_known_before_it() -> None:
    f = features(
        frame(
            tx(1, 0, is_fraud=1, card_id="c1"),  # known at day 7
            tx(2, 0.5 * DAY, card_id="c2"),
            tx(3, 0.1 * DAY, is_fraud=1, card_id="c3", label_reported_at=stamp(9 * DAY)),
            tx(4, 8.2 * DAY, card_id="c4"),
            tx(5, 9 * DAY, card_id="c5"),  # the very millisecond t3's label is reported
            tx(6, 9.5 * DAY, card_id="c6"),
            tx(7, 8.2 * DAY, card_id="c7", merchant_id="m_2"),  # another merchant's
        ),
        delay_days=7.0,
    )
    # t4 at day 8.2: the 1 d window [0.2, 1.2) holds t2; 7 d [-5.8, 1.2) holds t1, t2, t3,
    # of which t1 is a known fraud and t3 a fraud not reported yet.
    assert f.loc["t4", "merchant_count_1d"] == 1
    assert f.loc["t4", "merchant_fraud_rate_1d"] == 0.0
    assert f.loc["t4", "merchant_count_7d"] == 3
    assert f.loc["t4", "merchant_fraud_rate_7d"] == pytest.approx(1 / 3)
    assert f.loc["t5", "merchant_fraud_rate_7d"] == pytest.approx(1 / 3)  # known at, not before
    assert f.loc["t6", "merchant_fraud_rate_7d"] == pytest.approx(2 / 3)
    assert f.loc["t6", "merchant_fraud_rate_30d"] == pytest.approx(2 / 3)
    # Recent transactions are not in the delayed windows: t4 and t5 are not counted by t6.
    assert f.loc["t6", "merchant_count_30d"] == 3
    assert f.loc["t7", "merchant_count_30d"] == 0
    assert f.loc["t7", "merchant_fraud_rate_30d"] == 0.0
    for t in ("t1", "t2", "t3"):  # nothing 7 days before them
        assert f.loc[t, "merchant_count_30d"] == 0
        assert f.loc[t, "merchant_fraud_rate_30d"] == 0.0


def test_a_row_never_sees_its_own_label_even_without_delay() -> None:
    f = features(
        frame(tx(1, 0, is_fraud=1), tx(2, 0.001, card_id="c2"), tx(3, 0.001, card_id="c3")),
        delay_days=0.0,
    )
    assert f.loc["t1", "merchant_count_1d"] == 0
    assert f.loc["t1", "merchant_fraud_rate_1d"] == 0.0
    for t in ("t2", "t3"):  # one millisecond later: t1 and its label; not each other
        assert f.loc[t, "merchant_count_1d"] == 1
        assert f.loc[t, "merchant_fraud_rate_1d"] == 1.0


def test_weekend_and_night_are_local_time() -> None:
    f = features(
        frame(
            tx(1, 0),  # Monday 12:00
            tx(2, -9 * 3600),  # Monday 03:00: night
            tx(3, 5 * DAY),  # Saturday 12:00
            tx(4, 0, offset="+10:00", card_id="c2"),  # Monday 22:00 local: not night
            tx(5, 15 * 3600, offset="-05:00", card_id="c3"),  # Tuesday 03:00 UTC, Monday 22:00
            tx(6, 13 * 3600, offset="+08:00", card_id="c4"),  # Tuesday 09:00 local
            tx(7, -13 * 3600, offset="+02:00", card_id="c5"),  # Sunday 23:00 UTC, Monday 01:00
            tx(8, 4 * DAY + 11 * 3600, offset="+02:00", card_id="c6"),  # Saturday 01:00 local
        )
    )
    in_order = f.loc[[f"t{n}" for n in range(1, 9)]]  # the history is in time order
    assert in_order["is_night"].tolist() == [0, 1, 0, 0, 0, 0, 1, 1]
    assert in_order["is_weekend"].tolist() == [0, 0, 1, 0, 0, 0, 0, 1]


def test_the_vectorised_windows_equal_a_direct_count() -> None:
    rng = np.random.default_rng(3)
    n = 600
    ts = np.sort(rng.integers(0, 40 * DAY_MS, n))
    ts[10:14] = ts[10]  # some equal times
    card, merchant = rng.integers(0, 25, n), rng.integers(0, 8, n)
    amount = rng.uniform(1, 100, n)
    fraud = (rng.random(n) < 0.2).astype(np.int8)
    delay = 3 * DAY_MS
    known = ts + delay + np.where(rng.random(n) < 0.3, rng.integers(-delay, 20 * DAY_MS, n), 0)
    known = np.maximum(known, ts)
    got = baseline.feature_columns(
        ts, np.zeros(n, np.int64), amount, card, merchant, fraud, known, delay
    )
    for i in range(0, n, 7):
        t = ts[i]
        for days in baseline.WINDOW_DAYS:
            w = days * DAY_MS
            mine = (card == card[i]) & (ts >= t - w) & (ts < t)
            assert got[f"card_count_{days}d"][i] == mine.sum()
            if mine.any():
                assert got[f"card_mean_amount_{days}d"][i] == pytest.approx(amount[mine].mean())
            shop = (merchant == merchant[i]) & (ts >= t - delay - w) & (ts < t - delay)
            frauds = (shop & (fraud == 1) & (known < t)).sum()
            assert got[f"merchant_count_{days}d"][i] == shop.sum()
            want = frauds / shop.sum() if shop.any() else 0.0
            assert got[f"merchant_fraud_rate_{days}d"][i] == pytest.approx(want)
    assert got["is_night"][ts % DAY_MS < 7 * HOUR_MS].all()
