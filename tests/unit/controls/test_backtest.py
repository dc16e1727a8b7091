"""The backtest report's arithmetic on hand-built rows, and on a file replayed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from controls.backtest import (
    BacktestError,
    BacktestRows,
    apply_action,
    backtest,
    moment_ms,
    rows_from_frame,
)
from controls.columns import Columns
from controls.expression import compile_condition

DECISIONS = {"low": "approve", "medium": "review", "high": "review", "critical": "decline"}


def hand_rows() -> BacktestRows:
    amount = np.array([100.0, 200.0, 300.0, 400.0, 500.0, 600.0])
    tiers = np.array(["low", "low", "medium", "high", "critical", "low"], dtype=object)
    return BacktestRows(
        columns=Columns(6, arrays={"amount": amount}, risk_tier=tiers),
        amount=amount,
        currency=np.array(["EUR", "USD", "EUR", "EUR", "USD", "EUR"], dtype=object),
        risk_tier=tiers,
        decision=np.array(
            ["approve", "approve", "review", "review", "decline", "decline"], dtype=object
        ),
        decision_source=np.array(
            ["model", None, "rule:x", "model", "model", "list:17"], dtype=object
        ),
        label=np.array(["fraud", "legitimate", None, "fraud", "fraud", "fraud"], dtype=object),
    )


def test_counts_amounts_and_decision_changes() -> None:
    report = backtest(hand_rows(), "amount >= 200", "review", DECISIONS)
    assert (report.rows, report.hits) == (6, 5)
    assert (report.hits_fraud, report.hits_legitimate, report.hits_unlabelled) == (3, 1, 1)
    assert report.fraud == 4
    assert report.fraud_amount_caught == {"EUR": 1000.0, "USD": 500.0}
    assert report.fraud_amount_total == {"EUR": 1100.0, "USD": 500.0}
    # the list's decline stays (lists win over rules); unchanged ones are not changes
    assert report.decision_changes == {"approve": {"review": 1}, "decline": {"review": 1}}
    assert report.kept_by_list == 1
    body = report.as_json()
    assert body["recall"] == 0.75
    assert body["precision"] == 0.75
    assert body["condition"] == "amount >= 200"


def test_raise_to_takes_the_raised_tiers_decision_and_never_lowers() -> None:
    rows = hand_rows()
    assert apply_action("raise_to:high", rows.risk_tier, rows.decision, DECISIONS).tolist() == [
        "review", "review", "review", "review", "decline", "review",
    ]  # fmt: skip
    report = backtest(rows, "true", "raise_to:critical", DECISIONS)
    assert report.decision_changes == {"approve": {"decline": 2}, "review": {"decline": 2}}


def test_approve_and_no_hits() -> None:
    report = backtest(hand_rows(), "amount > 10000", "approve", DECISIONS)
    assert (report.hits, report.hits_fraud, report.decision_changes) == (0, 0, {})
    assert report.fraud_amount_caught == {}
    assert report.as_json()["recall"] == 0.0


def test_a_bad_action_or_condition_is_refused() -> None:
    from controls.expression import ExpressionError
    from controls.ruleset import RuleError

    with pytest.raises(RuleError):
        backtest(hand_rows(), "true", "block", DECISIONS)
    with pytest.raises(ExpressionError):
        backtest(hand_rows(), "amout > 1", "review", DECISIONS)


def history(rows: int = 6) -> pd.DataFrame:
    """One card's transactions an hour apart: a velocity history."""
    return pd.DataFrame(
        {
            "transaction_id": [f"t{i}" for i in range(rows)],
            "timestamp": [f"2026-11-20T{i:02d}:30:00Z" for i in range(rows)],
            "amount": [10.0 * (i + 1) for i in range(rows)],
            "currency": ["EUR"] * rows,
            "card_id": ["c1"] * rows,
            "merchant_id": ["m1"] * rows,
            "merchant_category": ["5411"] * rows,
            "channel": ["pos"] * rows,
            "is_fraud": [0, 0, 1, 0, 1, 1][:rows],
            "risk_tier": ["low"] * rows,
            "score": [0.1] * rows,
            "decision": ["approve"] * rows,
        }
    )


def test_rows_from_a_file_replay_features_over_the_look_back_but_count_the_period() -> None:
    frame = history()
    since = moment_ms("2026-11-20T02:30:00Z")  # rows t2..t5 counted
    condition = compile_condition("card_count_24h >= 3")  # the card's earlier rows
    rows = rows_from_frame(frame, condition, DECISIONS, 7.0, since_ms=since)
    assert rows.columns.rows == 4
    report = backtest(rows, condition, "decline", DECISIONS)
    # t3, t4, t5 have 3+ earlier transactions (t0, t1 from the look-back included)
    assert (report.hits, report.hits_fraud, report.hits_legitimate) == (3, 2, 1)
    assert report.fraud == 3
    assert report.decision_changes == {"approve": {"decline": 3}}


def test_a_label_column_says_what_is_unlabelled() -> None:
    frame = history().drop(columns="is_fraud")
    frame["label"] = ["fraud", None, "legitimate", None, "fraud", ""]
    rows = rows_from_frame(frame, compile_condition("true"), DECISIONS, 7.0)
    report = backtest(rows, "true", "review", DECISIONS)
    assert (report.hits_fraud, report.hits_legitimate, report.hits_unlabelled) == (2, 1, 3)


def test_outputs_a_file_lacks_need_a_model() -> None:
    frame = history().drop(columns=["risk_tier", "decision"])
    with pytest.raises(BacktestError, match="no risk_tier: give a model bundle"):
        rows_from_frame(frame, compile_condition("true"), DECISIONS, 7.0)

    def scorer(matrix: np.ndarray) -> dict[str, np.ndarray]:
        n = len(matrix)
        return {
            "score": np.full(n, 0.9),
            "risk_tier": np.array(["high"] * n, dtype=object),
            "xgboost": np.full(n, 0.95),
            "isolation_forest": np.full(n, 0.5),
        }

    condition = compile_condition("xgboost > 0.9")
    rows = rows_from_frame(frame, condition, DECISIONS, 7.0, scorer=scorer)
    report = backtest(rows, condition, "decline", DECISIONS)
    assert report.hits == 6
    assert report.decision_changes == {"review": {"decline": 6}}  # high -> review, by the map


def test_an_empty_history() -> None:
    rows = rows_from_frame(history().iloc[:0], compile_condition("true"), DECISIONS, 7.0)
    report = backtest(rows, "true", "review", DECISIONS)
    assert (report.rows, report.hits, report.fraud) == (0, 0, 0)
    # A condition that names fields and features: no column to read, and nothing to hit.
    named = 'amount > 2000 and channel == "ecommerce" and card_country_changed == 1'
    rows = rows_from_frame(history().iloc[:0], compile_condition(named), DECISIONS, 7.0)
    assert backtest(rows, named, "review", DECISIONS).as_json()["hits"] == 0
