"""The generator is deterministic, follows the data contract and mixes the scenarios."""

from __future__ import annotations

import pandas as pd

from features.encode import prepare_history, validate
from synthetic.generator import GeneratorConfig, generate

CFG = GeneratorConfig(days=30, cards=3_000, seed=11)


def test_same_seed_same_rows_other_seed_other_rows() -> None:
    a, b = generate(CFG), generate(CFG)
    pd.testing.assert_frame_equal(a, b)
    c = generate(GeneratorConfig(days=30, cards=3_000, seed=12))
    assert not a["amount"].equals(c["amount"])


def test_rows_follow_the_data_contract_in_event_time_order() -> None:
    rows = generate(CFG)
    validate(rows)
    history = prepare_history(rows, 7.0)
    assert history.duplicates_dropped == 0
    assert (pd.Series(history.tx.ts).diff().dropna() >= 0).all()
    assert rows["transaction_id"].is_unique
    assert set(rows["channel"]) == {"pos", "ecommerce", "atm"}
    assert rows["timestamp"].str.contains(r"[+-]\d\d:\d\d$").any()  # local offsets, not only Z


def test_fraud_rate_and_scenarios() -> None:
    rows = generate(CFG)
    assert 0.005 <= rows["is_fraud"].mean() <= 0.012
    fraud = set(rows.loc[rows["is_fraud"] == 1, "scenario"])
    assert fraud == {
        "card_testing",
        "account_takeover",
        "stolen_card",
        "compromised_merchant",
        "high_amount",
        "low_signal",
    }
    lookalikes = set(rows.loc[rows["is_fraud"] == 0, "scenario"]) - {""}
    assert lookalikes == {"legit_travel", "legit_big_purchase", "legit_new_device"}


def test_card_testing_is_bursts_of_small_ecommerce_charges() -> None:
    rows = generate(CFG)
    tests = rows[(rows["scenario"] == "card_testing") & (rows["amount"] < 5)]
    assert len(tests) > 50
    assert (tests["channel"] == "ecommerce").all()
    assert tests["device_id"].notna().all()
