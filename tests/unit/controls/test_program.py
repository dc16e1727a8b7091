"""A rule set's one-program evaluation equals each condition evaluated alone."""

from __future__ import annotations

import numpy as np
import pytest

from controls.columns import Columns
from controls.ruleset import Rule, RuleSet
from features.definitions import FEATURE_NAMES
from loadtest.bench_rules import TEMPLATES
from tests.unit.controls.batch import batch

MORE = (
    "card_count_1h != 5",
    "card_country_changed != 1 and amount > 20",
    'risk_tier != "high" and risk_tier >= "medium"',
    "(amount > 1 and card_count_1h > 2) and (score > 0.1 and amount > 1)",
    "true and amount > 100",
    "false or amount > 100",
    "true",
    "false",
    "1 < 2 and 2 < 1",
    "card_count_1h > 2 or card_count_1h <= 2",
    "not (card_count_1h > 2) and amount >= 10",
    "12 == card_count_1h",
    "amount >= 100.1",
    "card_amount_mean_prev30d < 100.5 and card_amount_mean_prev30d > 0.1",
)


def one_by_one(rules: RuleSet, columns: Columns) -> np.ndarray:
    conditions = [r.check() for r in rules.rules]
    return np.array([c.evaluate(columns) for c in conditions]).reshape(len(conditions), -1)


def random_batch(rows: int, seed: int) -> Columns:
    rng = np.random.default_rng(seed)
    matrix = rng.integers(0, 12, (rows, len(FEATURE_NAMES))).astype(np.float32)
    matrix[rng.random(matrix.shape) < 0.2] = np.nan
    fields = [
        {
            "amount": float(rng.choice([10.0, 100.1, 250.0, 2500.0, 5000.0])),
            "currency": str(rng.choice(["EUR", "USD"])),
            "channel": str(rng.choice(["pos", "ecommerce", "atm"])),
            "merchant_category": str(rng.choice(["6011", "5411", "7995"])),
            "merchant_country": rng.choice(["FR", "US", None]),
        }
        for _ in range(rows)
    ]
    tiers = np.array(["low", "medium", "high", "critical"], dtype=object)[rng.integers(0, 4, rows)]
    return Columns.for_batch(
        matrix, fields, rng.random(rows), tiers, rng.random(rows), rng.random(rows)
    )


@pytest.mark.parametrize("seed", range(6))
def test_the_program_equals_each_condition_alone(seed: int) -> None:
    texts = [t.format(a=1000, b=200, c=3, s=5) for t in TEMPLATES] + list(MORE)
    rules = RuleSet.compile(
        [Rule(f"r{i:02d}", "", t, "review", "active", i) for i, t in enumerate(texts)], 1
    )
    for rows in (1, 8, 33):
        together = rules.matrix(random_batch(rows, seed))
        alone = one_by_one(rules, random_batch(rows, seed))
        assert together.shape == (len(texts), rows)
        assert (together == alone).all(), [
            texts[i] for i in np.flatnonzero(~(together == alone).all(axis=1))
        ]


def test_on_the_hand_built_batch() -> None:
    rules = RuleSet.compile(
        [Rule(f"r{i}", "", t, "review", "active", i) for i, t in enumerate(MORE)], 1
    )
    assert (rules.matrix(batch()) == one_by_one(rules, batch())).all()
