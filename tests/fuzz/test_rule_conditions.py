"""Property fuzzing (hypothesis) of rule conditions, deep and wide: long operator chains,
nested `not`, unary minus and parentheses, wide `and` / `or`, lists, huge and non-finite
numbers, type errors. A fixed number of generated cases per run (derandomized), plus the
hostile run's reproductions.

The property: a condition is refused with the compiler's own error, or it is accepted and
then evaluates on the probe batch and on a scored batch, within a bounded number of Python
frames (whatever the caller's stack) and a time proportional to its operations, into one
boolean per row; in a rule set it never raises. On a real `fraud serve` process, writing a
generated rule is never a server error, and scoring with it in service answers 200."""

from __future__ import annotations

import inspect
import math
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from app.auth import digest
from app.metrics import scraped_total
from controls.expression import MAX_OPERATIONS, Condition
from controls.probe import probe_batch
from controls.ruleset import Rule, RuleError, RuleSet, check_condition
from tests.e2e.test_serve import live, serving
from tests.fuzz.conftest import record
from tests.pg import drop_schema
from tests.servers import shared_database_url
from tests.unit.controls.batch import batch

CASES = 400
API_CASES = 40
FUZZ = settings(
    max_examples=CASES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# Frames an evaluation may need: the scoring path calls it from a few dozen frames deep,
# and the interpreter stops at sys.getrecursionlimit() (1,000).
EVALUATION_FRAMES = 300
# Per operation, a thousand times what one costs (about 1.5 µs), for a busy machine.
SECONDS_PER_OPERATION = 0.002

NUMBER_NAMES = ("amount", "score", "latitude", "card_count_1h", "card_amount_mean_prev30d")
STRING_NAMES = ("channel", "currency", "merchant_country", "device_id")
LITERALS = ("0", "1", "2.5", ".5", "1e3", "1e308", "1e999", "0.0", "999999")
DEEP = "score" + "+1" * 500 + " > 0"


def _chain(parts: tuple[str, int, str]) -> str:
    head, length, op = parts
    return head + f" {op} 1" * length


numbers = st.recursive(
    st.sampled_from(NUMBER_NAMES) | st.sampled_from(LITERALS),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from("+-*/"), inner).map(" ".join),
        inner.map(lambda x: f"-{x}"),
        inner.map(lambda x: f"({x})"),
        st.tuples(inner, st.integers(1, 700), st.sampled_from("+-*/")).map(_chain),
        st.tuples(st.integers(1, 80), inner).map(lambda t: "-" * t[0] + t[1]),
    ),
    max_leaves=12,
)
strings = st.sampled_from(STRING_NAMES) | st.sampled_from(['"EUR"', '""', '"x"'])
lists = st.lists(
    st.sampled_from(LITERALS) | st.sampled_from(LITERALS).map(lambda x: f"-{x}"),
    max_size=40,
).map(lambda items: "[" + ", ".join(items) + "]")
comparisons = st.one_of(
    st.tuples(numbers, st.sampled_from(("<", "<=", ">", ">=", "==", "!=")), numbers).map(" ".join),
    st.tuples(strings, st.sampled_from(("==", "!=")), strings).map(" ".join),
    st.tuples(numbers, st.sampled_from(("in", "not in")), lists).map(" ".join),
    st.tuples(st.sampled_from(("<", ">=", "==")), st.sampled_from(('"high"', '"low"'))).map(
        lambda t: f"risk_tier {t[0]} {t[1]}"
    ),
    st.sampled_from(("true", "false", "amount", '"x"')),  # the last two: type errors
)
conditions = st.recursive(
    comparisons,
    lambda inner: st.one_of(
        st.lists(inner, min_size=2, max_size=80).map(" and ".join),
        st.lists(inner, min_size=2, max_size=80).map(" or ".join),
        st.tuples(st.integers(1, 80), inner).map(lambda t: "not " * t[0] + t[1]),
        st.tuples(st.integers(1, 80), inner).map(lambda t: "(" * t[0] + t[1] + ")" * t[0]),
    ),
    max_leaves=40,
)


def at_depth(frames: int, call: Callable[[], Any]) -> Any:
    """`call()` from `frames` frames deeper than here."""
    return call() if frames <= 0 else at_depth(frames - 1, call)


def depth() -> int:
    frames, frame = 0, inspect.currentframe()
    while frame is not None:
        frames, frame = frames + 1, frame.f_back
    return frames


def evaluated(condition: Condition, columns: Any) -> tuple[np.ndarray, float]:
    """The condition's rows, evaluated with only EVALUATION_FRAMES frames left, and the
    CPU time it took."""
    padding = sys.getrecursionlimit() - depth() - EVALUATION_FRAMES

    def timed() -> tuple[np.ndarray, float]:
        started = time.process_time()
        rows = condition.evaluate(columns)
        return rows, time.process_time() - started

    return at_depth(padding, timed)  # type: ignore[no-any-return]


def accepted(text: str) -> Condition | None:
    """The compiled condition, or None if it was refused with the compiler's error."""
    try:
        return check_condition(text)
    except RuleError as exc:
        refusal = exc
    assert refusal.field == "condition"
    assert isinstance(refusal.position, int)
    return None


@FUZZ
@example(DEEP)
@example("amount in [-1e999]")
@example("not " * 47 + "true")
@example(" + ".join(["(" + "+".join(["amount"] * 40) + ")"] * 10) + " > 0")
@given(conditions)
def test_a_condition_is_refused_or_evaluates_within_bounds(text: str) -> None:
    condition = accepted(text)
    SEEN["compiled and evaluated" if condition else "refused by the compiler"] += 1
    if condition is None:
        return
    assert condition.operations <= MAX_OPERATIONS
    for columns in (probe_batch(), batch()):
        rows, took = evaluated(condition, columns)
        assert rows.dtype == np.bool_
        assert rows.shape == (columns.rows,)
        assert took <= 0.05 + condition.operations * SECONDS_PER_OPERATION, (took, text[:200])
    rule = Rule("fuzz", "", text, "review", "shadow", 1)
    failed: list[Exception] = []
    matched = RuleSet([rule], [condition], 1).evaluate(batch(), lambda _, exc: failed.append(exc))
    assert failed == []
    assert len(matched) == batch().rows


ADMIN = f"fk_fuzz_rules_admin_{uuid.uuid4().hex}"
SEEN: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def counted() -> Iterator[None]:
    yield
    record("rule conditions: " + ", ".join(f"{n} {what}" for what, n in sorted(SEEN.items())))


@pytest.fixture(scope="module")
def api(bundle_dir: Path) -> Iterator[str]:
    schema = f"fuzz_{uuid.uuid4().hex[:8]}"
    env = {
        "FRAUD_DATABASE_URL": shared_database_url(),
        "FRAUD_DATABASE_SCHEMA": schema,
        "FRAUD_ADMIN_API_KEYS": digest(ADMIN),
        "FRAUD_API_KEYS": digest("k1"),
    }
    try:
        with serving(bundle_dir, env=env) as (base, _):
            yield base
    finally:
        drop_schema(schema)


@settings(
    max_examples=API_CASES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@example(DEEP)
@given(text=conditions)
def test_a_generated_rule_never_fails_the_api(api: str, text: str) -> None:
    admin = {"Authorization": f"Bearer {ADMIN}"}
    with httpx.Client(base_url=api, timeout=30) as http:
        rule = {"condition": text[:2_000], "action": "review", "mode": "shadow"}
        put = http.put("/v1/rules/fuzz", json=rule, headers=admin)
        assert put.status_code in (200, 201, 422), put.text[:500]
        if put.status_code == 422:
            assert put.json()["detail"][0]["field"] == "condition", put.text[:500]
        else:
            version = http.get("/v1/rules", headers=admin).json()["version"]
            deadline = time.monotonic() + 30
            while scraped_total(http.get("/metrics").text, "fraud_rules_version") < version:
                assert time.monotonic() < deadline, "the rule never reached the scoring service"
                time.sleep(0.02)
        tx = live(transaction_id=f"fz_{uuid.uuid4().hex[:12]}")
        answer = http.post("/v1/score", json=tx, headers={"Authorization": "Bearer k1"})
        assert answer.status_code == 200, answer.text[:500]
        assert not math.isnan(answer.json()["score"])
        errors = scraped_total(http.get("/metrics").text, "fraud_rule_errors_total")
        assert errors == 0
    SEEN[f"through the API, PUT {put.status_code}"] += 1
