"""The generator is deterministic, follows the data contract and mixes the scenarios."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.dataset import read_transactions, write_transactions
from features.encode import parse_timestamps, prepare_history, validate
from synthetic.config import FRAUD_SCENARIOS, PRESETS, GeneratorConfig
from synthetic.generator import DAY_MS, _in_windows, build_portfolio, generate

CFG = GeneratorConfig(days=30, cards=3_000, seed=11)
# Every scenario on in a small world, the Handbook compromises 5 times as often so that
# there are enough of them (about 9 terminals and 120 cards instead of 2 and 24).
ALL_ON_MIX = {
    **dict.fromkeys(FRAUD_SCENARIOS, 1.0),
    "compromised_terminal": 5.0,
    "compromised_card": 5.0,
}
ALL_ON = GeneratorConfig(days=20, cards=2_000, seed=5, fraud_mix=ALL_ON_MIX)
# Whatever a transaction is, apart from its label and its place in the file.
ROW = ["timestamp", "amount", "card_id", "merchant_id", "channel", "device_id", "ip_address"]


def only(*on: str) -> GeneratorConfig:
    return replace(
        ALL_ON, fraud_mix={name: ALL_ON_MIX[name] * (name in on) for name in FRAUD_SCENARIOS}
    )


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    return generate(CFG)


def fraud_scenarios(frame: pd.DataFrame) -> set[str]:
    return set(frame.loc[frame["is_fraud"] == 1, "scenario"])


def test_same_seed_same_rows_other_seed_other_rows(rows: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(rows, generate(CFG))
    c = generate(GeneratorConfig(days=30, cards=3_000, seed=12))
    assert not rows["amount"].equals(c["amount"])


@pytest.mark.parametrize(
    ("cfg", "count", "fraud", "sha256"),
    [
        (
            CFG,
            75_045,
            882,
            "0fac7f5603988ddfefaf03dba3c9207ba59275e0f560021766723ad567c9b2e0",
        ),
        (
            GeneratorConfig(days=9, cards=400, seed=3),
            2_887,
            19,
            "b53a6c8e5c96fb6eda5c933276c1d0e76405500ec52d2196352604377b6ca6d3",
        ),
    ],
)
def test_the_defaults_write_the_file_written_before_the_generator_had_knobs(
    cfg: GeneratorConfig, count: int, fraud: int, sha256: str
) -> None:
    """Fingerprints of the CSV the generator wrote at 8ae719c, before GeneratorConfig grew."""
    frame = generate(cfg)
    assert (len(frame), int(frame["is_fraud"].sum())) == (count, fraud)
    assert hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest() == sha256
    assert PRESETS["default"] == GeneratorConfig()


def test_rows_follow_the_data_contract_in_event_time_order(rows: pd.DataFrame) -> None:
    validate(rows)
    history = prepare_history(rows, 7.0)
    assert history.duplicates_dropped == 0
    assert (pd.Series(history.tx.ts).diff().dropna() >= 0).all()
    assert rows["transaction_id"].is_unique
    assert set(rows["channel"]) == {"pos", "ecommerce", "atm"}
    assert rows["timestamp"].str.contains(r"[+-]\d\d:\d\d$").any()  # local offsets, not only Z
    assert "label_reported_at" not in rows


def test_fraud_rate_and_scenarios(rows: pd.DataFrame) -> None:
    assert 0.005 <= rows["is_fraud"].mean() <= 0.012
    assert fraud_scenarios(rows) == {
        "card_testing",
        "account_takeover",
        "stolen_card",
        "compromised_merchant",
        "high_amount",
        "low_signal",
    }
    lookalikes = set(rows.loc[rows["is_fraud"] == 0, "scenario"]) - {""}
    assert lookalikes == {"legit_travel", "legit_big_purchase", "legit_new_device"}


def test_card_testing_is_bursts_of_small_ecommerce_charges(rows: pd.DataFrame) -> None:
    tests = rows[(rows["scenario"] == "card_testing") & (rows["amount"] < 5)]
    assert len(tests) > 50
    assert (tests["channel"] == "ecommerce").all()
    assert tests["device_id"].notna().all()


def test_every_scenario_appears_when_all_are_on() -> None:
    assert fraud_scenarios(generate(ALL_ON)) == set(FRAUD_SCENARIOS)


@pytest.mark.parametrize("scenario", FRAUD_SCENARIOS)
def test_a_zero_weight_removes_a_scenario(scenario: str) -> None:
    off = generate(replace(ALL_ON, fraud_mix={**ALL_ON_MIX, scenario: 0.0}))
    assert fraud_scenarios(off) == set(FRAUD_SCENARIOS) - {scenario}


def test_the_original_scenarios_add_rows_and_leave_legitimate_traffic_alone() -> None:
    legit = generate(only())
    assert legit["is_fraud"].sum() == 0
    mixed = generate(only(*FRAUD_SCENARIOS[:6]))
    kept = mixed[mixed["is_fraud"] == 0].reset_index(drop=True)
    pd.testing.assert_frame_equal(kept[ROW], legit[ROW])


def test_fraud_scale_multiplies_every_rate() -> None:
    base = GeneratorConfig(days=20, cards=2_000, seed=5)
    fraud = int(generate(base)["is_fraud"].sum())
    doubled = generate(replace(base, fraud_scale=2.0))
    assert 1.6 * fraud < doubled["is_fraud"].sum() < 2.4 * fraud
    assert generate(replace(base, fraud_scale=0.0))["is_fraud"].sum() == 0


def test_in_windows_is_true_from_an_events_start_for_its_length() -> None:
    key = np.array([1, 1, 1, 1, 1, 2, 2, 3])
    t = np.array([9, 10, 14, 16, 17, 4, 5, 10])
    inside = _in_windows(key, t, np.array([1, 2, 1]), np.array([10, 0, 12]), 5)
    assert inside.tolist() == [False, True, True, True, False, True, False, False]
    assert not _in_windows(key, t, np.array([], np.int64), np.array([], np.int64), 5).any()


def test_a_compromised_terminal_makes_every_later_transaction_there_fraud() -> None:
    """The period (20 days) is shorter than a compromise (28), so none ends inside it."""
    before, after = generate(only()), generate(only("compromised_terminal"))
    pd.testing.assert_frame_equal(before[ROW], after[ROW])
    flipped = after["scenario"] == "compromised_terminal"
    assert flipped.sum() > 20
    assert (before.loc[flipped, "is_fraud"] == 0).all()
    assert (after["is_fraud"] == flipped).all()  # nothing else is fraud in this mix
    assert (after.loc[flipped, "channel"] != "ecommerce").all()
    ts, _ = parse_timestamps(after["timestamp"])
    after = after.assign(ts=ts)
    first = after[flipped].groupby("merchant_id")["ts"].min()
    at = after[after["merchant_id"].isin(first.index)]
    later = at["ts"] >= at["merchant_id"].map(first)
    assert (at.loc[later, "is_fraud"] == 1).all()


def test_a_compromised_card_has_a_third_of_its_transactions_at_five_times_the_amount() -> None:
    before, after = generate(only()), generate(only("compromised_card"))
    same = [c for c in ROW if c != "amount"]
    pd.testing.assert_frame_equal(before[same], after[same])
    hit = after["scenario"] == "compromised_card"
    assert hit.sum() > 200
    assert (after["is_fraud"] == hit).all()
    assert np.allclose(after.loc[hit, "amount"], (before.loc[hit, "amount"] * 5).round(2))
    assert (after.loc[~hit, "amount"] == before.loc[~hit, "amount"]).all()
    # Of each compromised card's later rows in the 14 days after its first fraud, a third are
    # (somewhat fewer: for some cards the compromise was over before the 14 days were).
    ts, _ = parse_timestamps(after["timestamp"])
    after = after.assign(ts=ts)
    first = after[hit].groupby("card_id")["ts"].min()
    mine = after[after["card_id"].isin(first.index)]
    since = mine["ts"] - mine["card_id"].map(first)
    window = mine[(since > 0) & (since < 14 * DAY_MS)]
    assert 0.2 < window["is_fraud"].mean() < 0.4
    assert (since[mine["is_fraud"] == 1] < 14 * DAY_MS).mean() > 0.95


def test_label_reported_at_follows_each_fraud_by_about_the_delay(tmp_path: Path) -> None:
    plain = generate(ALL_ON)
    rows = generate(replace(ALL_ON, label_delay_days=4.0))
    pd.testing.assert_frame_equal(rows.drop(columns="label_reported_at"), plain)
    fraud = rows["is_fraud"] == 1
    assert (
        rows.loc[fraud, "label_reported_at"].str.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$").all()
    )
    assert rows.loc[~fraud, "label_reported_at"].isna().all()
    ts, _ = parse_timestamps(rows.loc[fraud, "timestamp"])
    reported, _ = parse_timestamps(rows.loc[fraud, "label_reported_at"])
    days = (reported - ts) / DAY_MS
    assert (days > 0).all()
    assert 3.6 < days.mean() < 4.4
    assert days.min() < 2 < 8 < days.max()  # spread, not a fixed delay
    # The file is read back and the replay takes the reported times as the labels' times.
    write_transactions(rows, tmp_path / "h.csv")
    history = prepare_history(read_transactions(tmp_path / "h.csv"), 7.0)
    assert history.label_known_at is not None
    known = pd.Series(history.label_known_at, index=history.frame["transaction_id"])
    expected = pd.Series(reported, index=rows.loc[fraud, "transaction_id"])
    assert (known[expected.index] == expected).all()


def distinct_shops(frame: pd.DataFrame) -> pd.Series:
    everyday = frame[(frame["scenario"] == "") & (frame["channel"] == "pos")]
    return everyday.groupby("card_id")["merchant_id"].nunique()


def test_favourite_merchants_limits_the_shops_a_card_returns_to() -> None:
    base = GeneratorConfig(days=30, cards=1_000, seed=4)
    loyal = distinct_shops(generate(replace(base, favourite_merchants=3)))
    assert loyal.max() <= 3
    usual = distinct_shops(generate(base))
    assert usual.max() <= 12
    assert (
        loyal.mean()
        < usual.mean()
        < distinct_shops(generate(replace(base, favourite_merchants=40))).mean()
    )


@pytest.mark.parametrize("merchants", [24, 25, 800, 10_000])
def test_merchants_sets_the_number_of_card_present_shops(merchants: int) -> None:
    cfg = GeneratorConfig(days=40, cards=400, merchants=merchants)
    p = build_portfolio(cfg, np.random.default_rng(0))
    assert sum(len(pool) for pool in p.city_pools) == merchants
    assert all(len(pool) for pool in p.city_pools)


def test_more_merchants_spread_the_cards_over_more_shops() -> None:
    base = GeneratorConfig(days=40, cards=400, seed=2)
    shops = generate(base)
    denser = generate(replace(base, merchants=800))
    pos = "channel == 'pos'"
    assert denser.query(pos)["merchant_id"].nunique() > shops.query(pos)["merchant_id"].nunique()


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_generate_valid_histories(name: str) -> None:
    cfg = replace(PRESETS[name], days=10, cards=1_000)
    rows = generate(cfg)
    history = prepare_history(rows, 7.0)
    assert history.duplicates_dropped == 0
    assert fraud_scenarios(rows) <= {s for s in FRAUD_SCENARIOS if cfg.weight(s) > 0}
    if cfg.label_delay_days is None:
        assert "label_reported_at" not in rows
    else:
        assert (rows["label_reported_at"].notna() == (rows["is_fraud"] == 1)).all()
