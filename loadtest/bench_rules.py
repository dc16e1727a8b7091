"""Rule evaluation cost: 0, 10 and 50 rules with realistic conditions on batches of 1, 8 and
32 scored transactions, in microseconds per batch and per row (compiling is not timed: a
version's rules compile once). Then long rules (about 2,000 characters, 161 operations
each, the shape of issue 22's hostile run): the 81 it stored, beside what the default
FRAUD_MAX_RULE_SET_OPERATIONS admits, and the cost of one operation. CPU time of this
process, the best of seven runs: on a shared machine, wall time measures the neighbours.
Prints figures; not a test."""

from __future__ import annotations

import time

import numpy as np

from app.settings import Settings
from controls.columns import Columns
from controls.ruleset import Rule, RuleSet
from features.definitions import FEATURE_NAMES

# Shapes a fraud team writes: thresholds on amount and velocity, channel and MCC lists,
# tier and score bands, country changes; several rules share their pieces.
TEMPLATES = (
    'amount > {a} and channel == "ecommerce" and card_country_changed == 1',
    'risk_tier >= "high" and merchant_category in ["6011", "7995", "4829"]',
    "card_count_1h > {c} and amount > {b}",
    'score > 0.{s} and merchant_country not in ["FR", "DE", "GB"]',
    'channel == "atm" and card_amount_sum_24h > {a}',
    "device_distinct_cards_24h >= {c} or ip_distinct_cards_24h >= {c}",
    'not (channel == "pos") and card_merchant_first_use == 1 and amount > {b}',
    "amount / (card_amount_mean_prev30d + 1) > {c} and xgboost > 0.{s}",
    'risk_tier == "medium" and isolation_forest > 0.{s} and currency != "EUR"',
    "card_count_5m >= {c} and card_distinct_merchants_1h >= 3",
)


def rules(count: int) -> list[Rule]:
    out = []
    for i in range(count):
        text = TEMPLATES[i % len(TEMPLATES)].format(
            a=1000 + 100 * i, b=200 + 10 * i, c=2 + i % 5, s=5 + i % 4
        )
        out.append(Rule(f"r{i}", "", text, "review", "active" if i % 3 else "shadow", i))
    return out


def batch(rows: int, rng: np.random.Generator) -> Columns:
    matrix = rng.random((rows, len(FEATURE_NAMES)), dtype=np.float32) * 10
    matrix[rng.random(matrix.shape) < 0.1] = np.nan
    fields = [
        {
            "amount": float(rng.uniform(1, 3000)),
            "currency": "EUR",
            "channel": ("pos", "ecommerce", "atm")[int(rng.integers(3))],
            "merchant_category": ("5411", "6011", "5732")[int(rng.integers(3))],
            "merchant_country": "FR",
            "card_id": f"c{j}",
            "merchant_id": "m1",
        }
        for j in range(rows)
    ]
    tiers = np.array(["low", "medium", "high", "critical"], dtype=object)[rng.integers(0, 4, rows)]
    return Columns.for_batch(
        matrix, fields, rng.random(rows), tiers, rng.random(rows), rng.random(rows)
    )


def measure(ruleset: RuleSet, rows: int, repeat: int, rng: np.random.Generator) -> float:
    batches = [batch(rows, rng) for _ in range(repeat)]  # a batch's columns are built once
    started = time.process_time()
    for columns in batches:
        ruleset.evaluate(columns)
    return (time.process_time() - started) / repeat * 1e6


def long_condition(i: int) -> str:
    """About 2,000 characters of arithmetic and comparisons, none shared with another rule."""
    text = ""
    for k in range(1_000):
        piece = f"(amount * {i}.{k} + card_count_1h) / (card_amount_mean_prev30d + {k}) > {k + i}"
        longer = f"{text} or {piece}" if text else piece
        if len(longer) > 2_000:
            break
        text = longer
    return text


def long_rules(count: int) -> list[Rule]:
    return [Rule(f"long{i}", "", long_condition(i), "review", "shadow", i) for i in range(count)]


def main() -> None:
    rng = np.random.default_rng(7)
    print(f"{'rules':>5} {'batch':>5} {'µs/batch':>10} {'µs/row':>8}")
    for count in (0, 10, 50):
        ruleset = RuleSet.compile(rules(count), version=1)
        for rows in (1, 8, 32):
            measure(ruleset, rows, 50, rng)  # warm up
            best = min(measure(ruleset, rows, 1000, rng) for _ in range(7))
            print(f"{count:>5} {rows:>5} {best:>10.1f} {best / rows:>8.1f}")
    bound = Settings.model_fields["max_rule_set_operations"].default
    each = RuleSet.compile(long_rules(1), version=1).operations
    admitted = bound // each
    print(
        f"\nlong rules: {each} operations each; FRAUD_MAX_RULE_SET_OPERATIONS={bound:,} admits {admitted}"
    )
    print(f"{'rules':>5} {'operations':>10} {'batch':>5} {'µs/batch':>10} {'µs/operation':>12}")
    for count in (81, admitted):
        ruleset = RuleSet.compile(long_rules(count), version=1)
        for rows in (1, 32):
            measure(ruleset, rows, 5, rng)
            best = min(measure(ruleset, rows, 50, rng) for _ in range(7))
            print(
                f"{count:>5} {ruleset.operations:>10,} {rows:>5} {best:>10.0f} "
                f"{best / ruleset.operations:>12.2f}"
            )


if __name__ == "__main__":
    main()
