"""Window semantics: event time, no self or future, equal timestamps, duplicates, order, bounds."""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from features.definitions import MAX_EVENTS
from tests.factories import frame, tx
from tests.unit.features.helpers import replay


def test_a_transaction_sees_only_earlier_events_in_each_window() -> None:
    f = replay(
        frame(tx(1, 0, amount=5.0), tx(2, 30, amount=7.0), tx(3, 400, amount=11.0), tx(4, 4000))
    )
    assert f.loc["t1", "card_count_7d"] == 0
    assert f.loc["t2", "card_count_1m"] == 1
    assert f.loc["t2", "card_amount_sum_1m"] == 5.0
    # t3 at 400 s: both earlier events are older than 5 min, within 1 h.
    assert f.loc["t3", "card_count_5m"] == 0
    assert f.loc["t3", "card_count_1h"] == 2
    assert f.loc["t3", "card_amount_mean_1h"] == 6.0
    assert f.loc["t3", "card_amount_max_1h"] == 7.0
    # t4 at 4000 s: t1 and t2 have left the hour, t3 has not.
    assert f.loc["t4", "card_count_1h"] == 1
    assert f.loc["t4", "card_count_24h"] == 3
    assert f.loc["t4", "card_seconds_since_last"] == 3600.0


def test_an_empty_window_has_missing_mean_and_max_not_zero() -> None:
    f = replay(frame(tx(1, 0)))
    assert f.loc["t1", "card_count_1h"] == 0
    assert math.isnan(f.loc["t1", "card_amount_mean_1h"])
    assert math.isnan(f.loc["t1", "card_amount_max_1h"])
    assert math.isnan(f.loc["t1", "card_seconds_since_last"])


def test_transactions_with_the_same_timestamp_do_not_see_each_other() -> None:
    f = replay(frame(tx(1, 0), tx(2, 100), tx(3, 100), tx(4, 101)))
    assert f.loc["t2", "card_count_1h"] == 1
    assert f.loc["t3", "card_count_1h"] == 1
    assert f.loc["t4", "card_count_1h"] == 3


def test_the_future_is_never_seen_whatever_the_file_order() -> None:
    rows = [
        tx(1, 0, amount=1.0),
        tx(2, 60, amount=2.0),
        tx(3, 120, amount=3.0),
        tx(4, 180, amount=4.0),
    ]
    in_order = replay(frame(*rows))
    shuffled = replay(frame(rows[2], rows[0], rows[3], rows[1]))
    pd.testing.assert_frame_equal(in_order.sort_index(), shuffled.sort_index())
    assert in_order.loc["t1", "card_count_7d"] == 0


def test_a_repeated_transaction_id_counts_once_and_the_first_copy_wins() -> None:
    f = replay(frame(tx(1, 0, amount=5.0), tx(1, 10, amount=500.0), tx(2, 20)))
    assert list(f.index) == ["t1", "t2"]
    assert f.loc["t2", "card_count_1m"] == 1
    assert f.loc["t2", "card_amount_sum_1m"] == 5.0


def test_the_window_is_bounded_by_count_to_the_latest_events() -> None:
    n = MAX_EVENTS + 40
    rows = [tx(i, i, amount=float(i + 1)) for i in range(n)]
    f = replay(frame(*rows))
    last = f.loc[f"t{n - 1}"]
    assert last["card_count_1h"] == MAX_EVENTS
    # The oldest events fell out: the sum is of the latest MAX_EVENTS amounts.
    assert last["card_amount_sum_1h"] == sum(range(n - MAX_EVENTS, n))


def test_events_older_than_seven_days_are_forgotten() -> None:
    week = 7 * 86_400
    f = replay(frame(tx(1, 0), tx(2, week - 1), tx(3, week + 1)))
    assert f.loc["t2", "card_count_7d"] == 1
    assert f.loc["t3", "card_count_7d"] == 1  # t1 is older than 7 days at t3


def test_entities_are_independent_and_absent_entities_are_missing() -> None:
    f = replay(
        frame(
            tx(1, 0, card_id="a", device_id="d1", channel="ecommerce"),
            tx(2, 10, card_id="b", device_id="d1", channel="ecommerce"),
            tx(3, 20, card_id="a"),
        )
    )
    assert f.loc["t2", "card_count_1m"] == 0
    assert f.loc["t2", "device_count_1m"] == 1
    assert f.loc["t2", "device_distinct_cards_1h"] == 1
    assert f.loc["t2", "device_card_first_use"] == 1
    assert math.isnan(f.loc["t3", "device_count_1m"])
    assert math.isnan(f.loc["t3", "card_device_first_use"])
    assert f.loc["t3", "has_device"] == 0


def test_distinct_counts_and_first_use() -> None:
    f = replay(
        frame(
            tx(1, 0, merchant_id="m1"),
            tx(2, 10, merchant_id="m2"),
            tx(3, 20, merchant_id="m1"),
            tx(4, 30, merchant_id="m1"),
            tx(5, 40, merchant_id="m3"),
        )
    )
    assert f.loc["t4", "card_distinct_merchants_1h"] == 2
    assert f.loc["t4", "card_merchant_first_use"] == 0
    assert f.loc["t4", "card_merchant_count_7d"] == 2
    assert f.loc["t5", "card_merchant_first_use"] == 1
    assert f.loc["t5", "merchant_distinct_cards_1h"] == 0


def test_local_time_features_use_the_timestamps_own_offset() -> None:
    # 12:00 UTC on a Monday is 21:00 in Tokyo and 04:00 in Los Angeles.
    f = replay(frame(tx(1, 0, offset="+09:00"), tx(2, 0, card_id="b", offset="-08:00")))
    assert f.loc["t1", "hour_of_day"] == 21
    assert f.loc["t2", "hour_of_day"] == 4
    assert f.loc["t2", "is_night"] == 1
    assert f.loc["t1", "day_of_week"] == 0


def test_impossible_travel_speed_and_distance() -> None:
    # New York, then Paris 30 minutes later: about 5,840 km.
    f = replay(
        frame(
            tx(1, 0, latitude=40.7128, longitude=-74.0060),
            tx(2, 1800, latitude=48.8566, longitude=2.3522, merchant_country="FR"),
            tx(3, 1900),
        )
    )
    assert f.loc["t2", "card_distance_from_last_km"] == pytest.approx(5837, rel=0.01)
    assert f.loc["t2", "card_speed_from_last_kmh"] == pytest.approx(5837 * 2, rel=0.01)
    assert f.loc["t2", "card_country_changed"] == 1
    assert math.isnan(f.loc["t3", "card_distance_from_last_km"])  # t3 has no location
    assert f.loc["t3", "card_located_count_7d"] == 2


def test_labels_are_seen_only_once_known_and_never_by_their_own_row() -> None:
    day = 86_400
    f = replay(
        frame(
            tx(1, 0, is_fraud=1, merchant_id="m_bad"),
            tx(2, 3 * day, card_id="b", merchant_id="m_bad"),
            tx(3, 8 * day, card_id="c", merchant_id="m_bad"),
            tx(4, 8 * day + 1, card_id="d", merchant_id="m_bad", is_fraud=1),
        ),
        label_delay_days=7,
    )
    assert f.loc["t1", "merchant_known_fraud_30d"] == 0
    assert f.loc["t2", "merchant_known_fraud_30d"] == 0  # label of t1 not known yet
    assert f.loc["t3", "merchant_known_fraud_30d"] == 1
    assert f.loc["t4", "merchant_known_fraud_30d"] == 1  # its own label is not counted


def test_a_reported_at_column_decides_when_a_label_is_known() -> None:
    rows = frame(tx(1, 0, is_fraud=1), tx(2, 3600), tx(3, 7200))
    rows["label_reported_at"] = [
        rows.loc[0, "timestamp"].replace("12:00:00", "12:30:00"),
        None,
        None,
    ]
    f = replay(rows)
    assert f.loc["t2", "card_known_fraud_30d"] == 1


def _reference(frame_: pd.DataFrame) -> pd.DataFrame:
    """A slow, obviously-correct per-row computation of a few card features."""
    ts = np.array([int(datetime.fromisoformat(t).timestamp() * 1000) for t in frame_["timestamp"]])
    out = []
    for i in range(len(frame_)):
        mine = (
            (frame_["card_id"] == frame_["card_id"].iloc[i]).to_numpy()
            & (ts < ts[i])
            & (ts >= ts[i] - 3_600_000)
        )
        earlier = np.flatnonzero(mine)
        earlier = earlier[np.argsort(ts[earlier], kind="stable")][-MAX_EVENTS:]
        amounts = frame_["amount"].to_numpy()[earlier]
        out.append(
            {
                "card_count_1h": len(earlier),
                "card_amount_sum_1h": amounts.sum(),
                "card_amount_max_1h": amounts.max() if len(earlier) else np.nan,
                "card_distinct_merchants_1h": len(set(frame_["merchant_id"].to_numpy()[earlier])),
            }
        )
    return pd.DataFrame(out, index=frame_["transaction_id"])


def test_vectorised_replay_matches_a_slow_reference_on_random_traffic() -> None:
    rng = np.random.default_rng(3)
    n = 600
    seconds = np.sort(rng.integers(0, 4 * 3600, n))
    rows = [
        tx(
            i,
            float(s),
            card_id=f"c{rng.integers(0, 6)}",
            merchant_id=f"m{rng.integers(0, 9)}",
            amount=float(rng.integers(1, 5000)) / 10,
        )
        for i, s in enumerate(seconds)
    ]
    data = frame(*rows)
    got = replay(data)
    want = _reference(data)
    for column in want.columns:
        np.testing.assert_allclose(
            got[column].to_numpy(), want[column].to_numpy(), rtol=1e-6, err_msg=column
        )


def test_labels_are_counted_per_horizon_and_as_a_rate_of_the_profile() -> None:
    day = 86_400
    f = replay(
        frame(
            *(tx(i, i * 3600, merchant_id="m_bad", card_id=f"c{i}") for i in range(1, 5)),
            tx(5, 5 * 3600, merchant_id="m_bad", card_id="c5", is_fraud=1),
            tx(6, 6 * 3600, merchant_id="m_bad", card_id="c6", is_fraud=1),
            tx(7, 9 * day, merchant_id="m_bad", card_id="c7"),
            tx(8, 39 * day, merchant_id="m_bad", card_id="c8"),
        ),
        label_delay_days=7,
    )
    # At day 9 both labels are known (since day 7): within 7 d and 30 d, not within 1 d.
    assert f.loc["t7", "merchant_known_fraud_1d"] == 0
    assert f.loc["t7", "merchant_known_fraud_7d"] == 2
    assert f.loc["t7", "merchant_known_fraud_30d"] == 2
    # Six transactions in the 30 days before day 9, none in the 7 days before it.
    assert f.loc["t7", "merchant_count_prev30d"] == 6
    assert f.loc["t7", "merchant_count_prev7d"] == 0
    assert f.loc["t7", "merchant_known_fraud_rate_30d"] == pytest.approx(2 / 6)
    assert math.isnan(f.loc["t7", "merchant_known_fraud_rate_7d"])  # no transactions to rate
    # At day 39 the labels (known on day 7) are older than 30 days; days 9-38 hold t7 only.
    assert f.loc["t8", "merchant_known_fraud_30d"] == 0
    assert f.loc["t8", "merchant_count_prev30d"] == 1


def test_profiles_cover_the_complete_days_before_the_transaction_day_only() -> None:
    day = 86_400
    f = replay(
        frame(
            tx(1, 0, amount=10.0),
            tx(2, 1 * day, amount=30.0),
            tx(3, 1 * day + 60, amount=50.0),  # same day as t2: not in its profile
            tx(4, 30 * day, amount=8.0),
            tx(5, 31 * day, amount=100.0),
        )
    )
    assert f.loc["t1", "card_count_prev30d"] == 0
    assert math.isnan(f.loc["t1", "card_amount_mean_prev30d"])
    assert f.loc["t3", "card_count_prev1d"] == 1
    assert f.loc["t3", "card_amount_mean_prev30d"] == 10.0
    # Day 30 sees days 0-29: t1, t2, t3.
    assert f.loc["t4", "card_count_prev30d"] == 3
    assert f.loc["t4", "card_count_prev7d"] == 0
    assert f.loc["t4", "card_amount_mean_prev30d"] == pytest.approx(30.0)
    assert f.loc["t4", "card_amount_std_prev30d"] == pytest.approx(np.std([10.0, 30.0, 50.0]))
    assert f.loc["t4", "card_amount_to_mean_prev30d"] == pytest.approx(8.0 / 30.0)
    # Day 31 sees days 1-30: t1 (day 0) has left.
    assert f.loc["t5", "card_count_prev30d"] == 3
    assert f.loc["t5", "card_count_prev1d"] == 1
    assert f.loc["t5", "card_amount_mean_prev30d"] == pytest.approx((30 + 50 + 8) / 3)
