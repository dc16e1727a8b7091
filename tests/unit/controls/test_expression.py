"""The condition grammar: every operator, precedence, missing values, and refusals that
name the position."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controls.expression import (
    MAX_DEPTH,
    MAX_LENGTH,
    MAX_OPERATIONS,
    ExpressionError,
    compile_condition,
)
from tests.unit.controls.batch import batch


def rows(text: str) -> list[bool]:
    result = compile_condition(text).evaluate(batch())
    assert result.dtype == bool
    assert result.shape == (4,)
    return result.tolist()


def refused(text: str) -> ExpressionError:
    with pytest.raises(ExpressionError) as info:
        compile_condition(text)
    return info.value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("amount > 2000", [True, False, False, True]),
        ("amount >= 2500", [True, False, False, True]),
        ("amount < 100.1", [False, True, False, False]),
        ("amount <= 100.1", [False, True, True, False]),  # float64: 100.1 is 100.1
        ("amount == 10", [False, True, False, False]),
        ("amount != 10", [True, False, True, True]),
        ('channel == "ecommerce"', [True, False, True, False]),
        ('channel != "ecommerce"', [False, True, False, True]),
        ('merchant_category in ["6011", "7995"]', [True, False, True, True]),
        ('merchant_category not in ["6011", "7995"]', [False, True, False, False]),
        ("card_count_1h in [1, 5]", [True, True, False, False]),
        ("card_count_1h not in [1, 5]", [False, False, False, True]),
        ("amount + 500 >= 3000", [True, False, False, True]),
        ("amount - 500 > 2000", [False, False, False, True]),
        ("amount * 2 > 5000", [False, False, False, True]),
        ("amount / card_amount_mean_prev30d > 20", [True, False, False, False]),
        ("-amount < -2500", [False, False, False, True]),
        ("- -amount == amount", [True, True, True, True]),
        ("true", [True] * 4),
        ("false", [False] * 4),
        ("not false", [True] * 4),
        ("true == true and false != true", [True] * 4),
        ("score > 0.5 and xgboost > 0.9", [False, False, False, True]),
        ("isolation_forest == 0.3", [True, True, False, False]),
        ('currency == "EUR" or currency == "GBP"', [True, True, False, True]),
    ],
)
def test_each_operator(text: str, expected: list[bool]) -> None:
    assert rows(text) == expected


def test_precedence_or_below_and_below_not() -> None:
    # a or (b and c), not a or-then-and
    assert rows("true or false and false") == [True] * 4
    assert rows("(true or false) and false") == [False] * 4
    # (not a) and b
    assert rows("not false and false") == [False] * 4
    assert rows("not (false and false)") == [True] * 4
    # comparisons bind tighter than not / and
    assert rows("not amount > 2000 and amount > 50") == [False, False, True, False]


def test_arithmetic_precedence_and_unary_minus() -> None:
    assert rows("1 + 2 * 3 == 7") == [True] * 4
    assert rows("(1 + 2) * 3 == 9") == [True] * 4
    assert rows("10 - 4 - 3 == 3") == [True] * 4  # left to right
    assert rows("8 / 4 / 2 == 1") == [True] * 4
    assert rows("-2 * 3 == -6 and 2 * -3 == -6") == [True] * 4
    assert rows("amount - -1 == amount + 1") == [True] * 4


def test_a_missing_value_makes_every_comparison_false_and_not_negates_that() -> None:
    # row 2's features are NaN: every comparison on them is false, != included
    assert rows("card_country_changed == 1") == [True, False, False, True]
    assert rows("card_country_changed != 1") == [False, True, False, False]
    assert rows("card_count_1h not in [5]") == [False, True, False, True]
    # not is plain negation: the missing row becomes true
    assert rows("not (card_country_changed == 1)") == [False, True, True, False]
    # absent optional fields count as missing too
    assert rows('device_id != "dev_1"') == [False, True, False, False]
    assert rows('merchant_country not in ["FR"]') == [False, True, False, False]
    assert rows('merchant_country != "FR"') == [False, True, False, False]
    # arithmetic on a missing value is missing; so is a division by zero (row 3)
    assert rows("card_count_1h + 1 > 0") == [True, True, False, True]
    assert rows("amount / card_amount_mean_prev30d >= 0") == [True, True, False, False]


def test_risk_tiers_compare_by_their_order() -> None:
    assert rows('risk_tier >= "high"') == [False, False, True, True]
    assert rows('risk_tier < "medium"') == [True, False, False, False]
    assert rows('"high" <= risk_tier') == [False, False, True, True]
    assert rows('risk_tier == "medium"') == [False, True, False, False]
    assert rows('risk_tier != "critical"') == [True, True, True, False]
    assert rows('risk_tier in ["low", "critical"]') == [True, False, False, True]
    assert rows('risk_tier >= "high" and merchant_category in ["6011", "7995"]') == [
        False,
        False,
        True,
        True,
    ]


def test_features_are_float32_and_literals_compare_as_float32() -> None:
    assert rows("card_count_1h == 12") == [False, False, False, True]
    assert rows("12 == card_count_1h") == [False, False, False, True]
    assert rows("card_count_1h > 4.5") == [True, False, False, True]


def test_the_example_of_the_issue() -> None:
    assert rows('amount > 2000 and channel == "ecommerce" and card_country_changed == 1') == [
        True,
        False,
        False,
        False,
    ]


def test_strings_are_literal_and_escaped() -> None:
    assert rows('"a\\"b" == "a\\"b"') == [True] * 4
    assert rows('channel == "ECOMMERCE"') == [False] * 4


def test_empty_lists() -> None:
    for name in ("amount", "card_count_1h", "channel", "risk_tier"):
        assert rows(f"{name} in []") == [False] * 4
    assert rows("amount not in []") == [True] * 4
    assert rows("card_count_1h not in []") == [True, True, False, True]  # missing: false
    assert rows("device_id not in []") == [True, True, False, True]


def test_constant_memberships_fold() -> None:
    assert rows('"x" not in ["y"] and 1 in [1, 2]') == [True] * 4
    assert rows('"x" not in ["x"] or 1 not in [1]') == [False] * 4


def test_names_and_the_condition_text_are_kept() -> None:
    c = compile_condition('amount > 1 and (risk_tier == "low" or card_count_1h > 2)')
    assert c.names == {"amount", "risk_tier", "card_count_1h"}
    assert compile_condition("1 < 2").names == frozenset()


def test_shared_pieces_are_computed_once_per_batch() -> None:
    columns = batch()
    a = compile_condition("amount > 2000 and card_count_1h > 2")
    b = compile_condition("card_count_1h > 2 or amount > 2000")
    a.evaluate(columns)
    cached = dict(columns._cache)
    b.evaluate(columns)
    assert columns._cache.keys() == cached.keys()


@pytest.mark.parametrize(
    ("text", "position", "words"),
    [
        ("amout > 1", 0, "unknown name 'amout' at 0; did you mean 'amount'?"),
        ("amount > 1 and zzz == 2", 15, "unknown name 'zzz' at 15"),
        ('amount > "1"', 7, "compares a number with a string"),
        ('"1" == amount', 4, "compares a string with a number"),
        ("card_country_changed == true", 21, "write 1 for true"),
        ('channel < "pos"', 8, "orders numbers and risk tiers only"),
        ("channel + 1 > 2", 8, "needs numbers; 'channel' is a string"),
        ("-channel == 1", 0, "'-' needs a number, not a string"),
        ("amount", 0, "a condition must be true or false"),
        ("amount + 1", 0, "a condition must be true or false"),
        ('"ecommerce"', 0, "a condition must be true or false"),
        ("amount > 1 and 2", 15, "'and' needs true/false"),
        ("amount or true", 0, "'or' needs true/false"),
        ("not amount", 4, "'not' needs true/false"),
        ('risk_tier >= "hgh"', 13, "'hgh' at 13 is not a risk tier"),
        ('risk_tier in ["low", "severe"]', 21, "'severe' at 21 is not a risk tier"),
        ("risk_tier > 2", 10, "risk_tier at 10 compares with a tier in quotes"),
        ("risk_tier == channel", 10, "compares with a tier in quotes"),
        ('amount in [1, "2"]', 7, "mixes numbers and strings"),
        ("channel in [1, 2]", 8, "looks for a string in a list of numbers"),
        ("amount > ", 9, "ends too early at 9"),
        ("amount > 1 >", 11, "unexpected '>' at 11"),
        ("amount >> 1", 8, "unexpected '>' at 8"),
        ("amount # 1", 7, "unexpected character '#' at 7"),
        ("(amount > 1", 11, "ends too early at 11"),
        ("amount > 1)", 10, "unexpected ')' at 10"),
        ("amount > 1e999", 9, "out of range"),
        ("channel == 'pos'", 11, "unexpected character"),
        ("", 0, "empty condition"),
        ("   ", 0, "empty condition"),
    ],
)
def test_refusals_name_the_problem_and_its_position(text: str, position: int, words: str) -> None:
    error = refused(text)
    assert error.position == position, error
    assert words in str(error)
    assert f"at {position}" in str(error)


def test_line_and_column_of_a_multi_line_condition() -> None:
    error = refused('amount > 1\n  and chanel == "pos"')
    assert (error.position, error.line, error.column) == (17, 2, 7)


def test_too_long_and_too_deep_are_refused() -> None:
    assert "at most 2,000" in str(refused("amount > 1 or " * 200 + "true"))
    long_but_allowed = " or ".join(["amount > 1"] * 140)
    assert len(long_but_allowed) < MAX_LENGTH
    assert compile_condition(long_but_allowed).evaluate(batch()).tolist() == [True] * 4
    assert "nested deeper" in str(refused("not " * (MAX_DEPTH + 1) + "true"))
    assert compile_condition("not " * (MAX_DEPTH - 2) + "true").names == frozenset()


def test_no_python_is_evaluated() -> None:
    for text in ("__import__('os')", "amount.__class__ == 1", "[1][0] == 1", "amount if 1 else 2"):
        refused(text)


def test_an_empty_batch() -> None:
    from controls.columns import Columns

    result = compile_condition("true").evaluate(Columns(0))
    assert result.shape == (0,)
    assert result.dtype == np.bool_


ALPHABET = [
    "amount",
    "channel",
    "risk_tier",
    "card_count_1h",
    '"ecommerce"',
    '"high"',
    "and",
    "or",
    "not",
    "in",
    "[",
    "]",
    "(",
    ")",
    ",",
    "+",
    "-",
    "*",
    "/",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "0",
    "1.5",
    "true",
    "false",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(ALPHABET), max_size=12), st.text(max_size=20))
def test_any_text_compiles_or_is_refused_with_a_position(words: list[str], noise: str) -> None:
    for text in (" ".join(words), noise):
        error: ExpressionError | None = None
        try:
            condition = compile_condition(text)
        except ExpressionError as exc:
            error = exc
        if error is None:
            assert condition.evaluate(batch()).dtype == bool
        else:
            assert 0 <= error.position <= len(text)
            assert f"at {error.position}" in error.message


def test_evaluation_depth_is_bounded_at_compile_time() -> None:
    """A chain nests one level of evaluation per operator: 500 of them compiled (the level
    count was the grammar's) and evaluating raised RecursionError; now refused, naming
    where. The same operations grouped are fine."""
    error = refused("score" + "+1" * 500 + " > 0")
    assert f"more than {MAX_DEPTH} deep" in error.message
    assert error.position == 0
    assert compile_condition("score" + "+1" * (MAX_DEPTH - 2) + " > 0").evaluate(batch()).all()
    refused("score" + "+1" * (MAX_DEPTH - 1) + " > 0")
    grouped = " + ".join(["(" + "+".join(["1"] * 10) + " + amount)"] * 10)
    assert rows(f"{grouped} > 0") == [True] * 4


def test_operations_per_condition_are_bounded() -> None:
    def chunks(m: int) -> str:  # m chunks of 30 additions: m * 30 + (m - 1) + 1 operations
        return " + ".join(["(score" + "+1" * 30 + ")"] * m) + " > 0"

    assert compile_condition(chunks(16)).operations == 496
    assert rows(chunks(16)) == [True] * 4
    error = refused(chunks(17))
    assert error.message == f"condition applies 527 operations; at most {MAX_OPERATIONS} at 0"


def test_operations_are_counted_as_evaluation_applies_them() -> None:
    assert compile_condition("amount > 1").operations == 1
    assert compile_condition('amount > 1 and channel == "atm"').operations == 3
    assert compile_condition("amount / (card_count_1h + 1) > 2").operations == 3
    assert compile_condition("not (amount in [1, 2])").operations == 2
    assert compile_condition("1 + 2 > 2").operations == 0  # folded when compiled


@pytest.mark.parametrize("text", ["amount in [-1e999]", "amount not in [1, -1e999]"])
def test_a_non_finite_number_in_a_list_is_refused(text: str) -> None:
    """-1e999 compiled to -inf inside a list (the check skipped the minus sign)."""
    error = refused(text)
    assert error.message == f"number 1e999 is out of range at {text.index('1e999')}"
    assert refused("amount > -1e999").message.startswith("number 1e999 is out of range")
