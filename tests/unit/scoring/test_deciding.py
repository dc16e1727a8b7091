"""From read windows to decisions: the decision policy, one model call for full and
degraded rows together, reasons only where the tier is not low."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from controls.ruleset import Rule, RuleSet
from ensemble.drift_reference import DriftReference
from features.definitions import FEATURE_NAMES
from scoring.deciding import DecisionPolicy, decide
from scoring.decision import Shadow
from scoring.drift import DriftWindow
from tests.unit.scoring.fakes import Bundle, empty_read, transaction

DECISIONS = {"low": "approve", "medium": "review", "high": "review", "critical": "decline"}


@pytest.mark.parametrize(
    ("tier", "degraded", "policy", "expected"),
    [
        ("low", False, "score", "approve"),
        ("critical", False, "decline", "decline"),
        ("medium", True, "score", "review"),
        ("low", True, "review", "review"),
        ("critical", True, "approve", "approve"),
    ],
)
def test_the_policy_maps_tiers_and_overrides_degraded_answers(
    tier: str, degraded: bool, policy: str, expected: str
) -> None:
    assert DecisionPolicy(DECISIONS, policy).decide(tier, degraded) == expected


def test_full_and_degraded_rows_share_one_model_call_and_keep_their_order() -> None:
    bundle = Bundle(tiers=["low", "high", "critical"])
    txs = [transaction(f"tx_{i}").online() for i in range(3)]
    decisions = decide(
        bundle,  # type: ignore[arg-type]
        DecisionPolicy(DECISIONS, "review"),
        3,
        txs,
        [empty_read(), None, empty_read()],
        [0, 0, 0],
    )
    assert len(bundle.matrices) == 1
    # Rows with windows first: tx_0 is row 0, tx_2 row 1, the degraded tx_1 row 2.
    assert [d.transaction_id for d in decisions] == ["tx_0", "tx_1", "tx_2"]
    assert [d.score for d in decisions] == [0.0, 0.2, 0.1]
    assert [d.risk_tier for d in decisions] == ["low", "critical", "high"]
    assert [d.degraded for d in decisions] == [False, True, False]
    assert [d.decision for d in decisions] == ["approve", "review", "review"]
    # The degraded row has only request features: its window features are missing.
    matrix = bundle.matrices[0]
    assert np.isnan(matrix[2]).sum() > np.isnan(matrix[0]).sum()
    assert bundle.explained == [2]  # one pass for the two rows above "low"
    assert decisions[0].reasons == ()
    assert [r.feature for r in decisions[1].reasons] == ["amount"]
    assert {d.model_version for d in decisions} == {"test-model"}
    assert decisions[0].components == {"xgboost": 0.5, "isolation_forest": 0.25}
    assert all(d.latency_ms > 0 for d in decisions)


def test_no_reasons_asked_means_no_explanation_pass() -> None:
    bundle = Bundle(tiers=["critical"])
    [decision] = decide(
        bundle,  # type: ignore[arg-type]
        DecisionPolicy(DECISIONS),
        0,
        [transaction().online()],
        [None],
        [0],
    )
    assert decision.reasons == ()
    assert sum(bundle.explained) == 0  # no row explained
    assert decision.decision == "decline"  # "score": degraded answers decide on their tier


def test_the_drift_window_bins_the_rows_scored_with_their_windows_only() -> None:
    """Degraded rows miss most features for want of the store, not because the traffic
    changed: they are left out of the drift window."""
    reference = DriftReference.build(
        np.zeros((10, len(FEATURE_NAMES)), dtype=np.float32),
        np.zeros(10),
        FEATURE_NAMES,
        ["amount", "card_count_1h"],
    )
    window = DriftWindow(reference, window_s=60, buckets=1, min_rows=1)
    decide(
        Bundle(),  # type: ignore[arg-type]
        DecisionPolicy(DECISIONS),
        0,
        [transaction(f"tx_{i}").online() for i in range(3)],
        [empty_read(), None, empty_read()],
        [0, 0, 0],
        drift=window,
    )
    features, scores = window.counts()
    assert scores.sum() == 2  # tx_0 and tx_2; the degraded tx_1 left out
    assert features.sum(axis=1).tolist() == [2, 2]
    assert features[1, 0] == 0  # card_count_1h is present (0) for a new card, not missing


def test_a_challenger_shadows_the_same_matrix_and_never_decides() -> None:
    champion = Bundle(tiers=["low", "high"])
    challenger = Bundle(tiers=["critical", "low"], version="challenger-model", offset=0.5)
    txs = [transaction(f"tx_{i}").online() for i in range(2)]
    alone = decide(
        Bundle(tiers=["low", "high"]),  # type: ignore[arg-type]
        DecisionPolicy(DECISIONS),
        3,
        txs,
        [empty_read(), None],
        [0, 0],
    )
    shadowed = decide(
        champion,  # type: ignore[arg-type]
        DecisionPolicy(DECISIONS),
        3,
        txs,
        [empty_read(), None],
        [0, 0],
        challenger=challenger,  # type: ignore[arg-type]
    )
    # The challenger scored the very matrix the champion scored, in one call.
    assert len(challenger.matrices) == 1
    assert challenger.matrices[0] is champion.matrices[0]
    # The answers are the champion's, as without a challenger (latency aside).
    assert [orjson.loads(d.json) | {"latency_ms": 0} for d in shadowed] == [
        orjson.loads(d.json) | {"latency_ms": 0} for d in alone
    ]
    assert all(b"challenger" not in d.json for d in shadowed)
    assert [d.challenger for d in shadowed] == [
        Shadow("challenger-model", 0.5, "critical", "decline"),
        Shadow("challenger-model", 0.6, "low", "approve"),
    ]
    assert all(d.challenger is None for d in alone)


def test_rules_reading_the_score_decide_the_challengers_shadow_on_its_own_score() -> None:
    rules = RuleSet.compile(
        [Rule("high-score", "", "score > 0.4", "decline", "active", 1)], version=1
    )
    champion, challenger = Bundle(), Bundle(version="challenger-model", offset=0.5)
    [decision] = decide(
        champion,  # type: ignore[arg-type]
        DecisionPolicy(DECISIONS),
        0,
        [transaction().online()],
        [empty_read()],
        [0],
        rules,
        [{}],
        challenger=challenger,  # type: ignore[arg-type]
    )
    # The champion's score (0.0) does not meet the rule; the challenger's (0.5) does.
    assert (decision.decision, decision.decision_source) == ("approve", "model")
    assert decision.challenger == Shadow("challenger-model", 0.5, "low", "decline")
