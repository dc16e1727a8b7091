from __future__ import annotations

import numpy as np
import pytest

from ensemble.quality import card_precision_top_k, fraud_metrics, recall_at_fpr
from ensemble.split import split_by_time
from ensemble.tiers import Thresholds, assign_tiers, calibrate, tier_of
from features.definitions import DAY_MS


def test_thresholds_keep_the_target_share_of_legitimate_scores_at_or_above_each_tier() -> None:
    legit = np.random.default_rng(0).random(100_000)
    t = calibrate(legit, {"critical": 0.001, "high": 0.005, "medium": 0.02})
    for tier, rate in (("medium", 0.02), ("high", 0.005), ("critical", 0.001)):
        share = (legit >= getattr(t, tier)).mean()
        assert share <= rate
        assert share == pytest.approx(rate, abs=0.0005)
    assert t.medium <= t.high <= t.critical


def test_calibration_refuses_inconsistent_rates_and_empty_input() -> None:
    with pytest.raises(ValueError, match="critical < high < medium"):
        calibrate(np.ones(10), {"critical": 0.05, "high": 0.005, "medium": 0.02})
    with pytest.raises(ValueError, match="no legitimate"):
        calibrate(np.array([]))


def test_tiers_are_assigned_by_threshold_and_match_the_scalar_path() -> None:
    t = Thresholds(medium=0.2, high=0.5, critical=0.9)
    scores = np.array([0.0, 0.2, 0.49, 0.5, 0.89, 0.9, 1.0])
    tiers = assign_tiers(scores, t)
    assert tiers.tolist() == ["low", "medium", "medium", "high", "high", "critical", "critical"]
    assert [tier_of(float(s), t) for s in scores] == tiers.tolist()


def test_recall_at_fpr_and_operating_point() -> None:
    y = np.array([0] * 98 + [1, 1])
    score = np.r_[np.linspace(0, 0.5, 98), [0.9, 0.3]]
    assert recall_at_fpr(y, score, 0.0) == 0.5
    m = fraud_metrics(y, score, np.r_[np.ones(98), [100.0, 300.0]], Thresholds(0.6, 0.8, 0.95))
    assert m["precision"] == 1.0
    assert m["recall"] == 0.5
    assert m["false_positive_rate"] == 0.0
    assert m["value_detection_rate"] == 0.25
    assert m["tier_counts"] == {"low": 99, "medium": 0, "high": 1, "critical": 0}


def test_card_precision_ranks_cards_by_their_highest_score_each_day() -> None:
    day = DAY_MS
    rows = [  # (time, card, score, fraud)
        (0, "a", 0.9, 0),
        (10, "a", 0.3, 1),  # card a: its highest score 0.9, and a fraud that day
        (20, "b", 0.8, 0),
        (30, "c", 0.1, 1),  # a fraud, ranked third: outside the top 2
        (day + 0, "d", 0.7, 1),
        (day + 10, "e", 0.6, 1),
        (day + 20, "f", 0.5, 0),
        (day + 30, "a", 0.2, 0),  # a new day: card a's fraud of yesterday does not count
        (2 * day, "g", 0.4, 1),  # a day with a single card: the top 2 is that card
    ]
    ts, card, score, fraud = (np.array(c) for c in zip(*rows, strict=True))
    got = card_precision_top_k(fraud, score, card, ts, k=2)
    assert got == pytest.approx((1 / 2 + 2 / 2 + 1 / 1) / 3)
    assert card_precision_top_k(fraud[:0], score[:0], card[:0], ts[:0], k=2) is None


def test_fraud_metrics_give_card_precision_when_given_cards_and_times() -> None:
    y = np.array([0, 1, 0, 1])
    score = np.array([0.1, 0.9, 0.2, 0.8])
    t = Thresholds(0.5, 0.6, 0.7)
    assert "card_precision_at_100" not in fraud_metrics(y, score, np.ones(4), t)
    m = fraud_metrics(y, score, np.ones(4), t, np.array([1, 2, 3, 4]), np.zeros(4, np.int64))
    assert m["card_precision_at_100"] == 0.5  # 4 cards on one day, two of them with fraud


def test_time_split_is_ordered_with_gaps_and_skips_the_warm_up() -> None:
    ts = np.arange(0, 60 * DAY_MS, DAY_MS // 10)
    s = split_by_time(ts, 0.2, 0.2, gap_days=1, warmup_days=7)
    assert ts[s.train].min() >= 7 * DAY_MS
    assert ts[s.train].max() + DAY_MS <= ts[s.validation].min()
    assert ts[s.validation].max() + DAY_MS <= ts[s.test].min()
    with pytest.raises(ValueError, match="too short"):
        split_by_time(np.arange(0, 5 * DAY_MS, DAY_MS), warmup_days=7)
