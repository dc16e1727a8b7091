"""`fraud report --compare` on the real PostgreSQL: decisions stored with a challenger in
shadow and labels, the champion's and the challenger's figures side by side in report.md,
report.json and compare.png, as computed by hand (the plain report: test_report.py)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import matplotlib.image
import orjson
import pytest
from typer.testing import CliRunner

from cli.main import cli
from persistence.migrations import upgrade
from persistence.writer import decode, write_batch
from tests.audit_events import TIER, decided_event
from tests.integration.test_report import DAY, NOW, SINCE, UNTIL, week
from tests.pg import DATABASE_URL

Shadow = dict[str, Any] | None
# (transaction, event time, champion's model version, score, decision, challenger's result)
Stored = tuple[str, datetime, str, float, str, Shadow]


def shadow(version: str, score: float, decision: str) -> dict[str, Any]:
    return {"decision": decision, "model_version": version, "risk_tier": TIER[decision],
            "score": score}  # fmt: skip


def when(n: int) -> datetime:
    """The nth of the mature weeks' 60 transactions (frauds even, genuine odd), spread over
    weeks 0 to 2."""
    return week(0) + DAY + n * (20 * DAY / 90)


# The mature weeks, champion v-test and challenger v-next: 30 frauds and 30 genuine, 10 EUR
# each. The champion scores 10 genuine (.9) above the frauds (.8), the others .2: AP 30/40.
# It declines 20 frauds and those 10 genuine, approves the rest. The challenger scores the
# frauds .95 and the genuine .1 (AP 1), declines 25 frauds, reviews 5 and 2 genuine.
FRAUD: list[Stored] = [
    (f"f{i}", when(2 * i), "v-test", 0.8, "decline" if i < 20 else "approve",
     shadow("v-next", 0.95, "decline" if i < 25 else "review"))
    for i in range(30)
]  # fmt: skip
GENUINE: list[Stored] = [
    (f"g{i}", when(2 * i + 1), "v-test", 0.9 if i < 10 else 0.2,
     "decline" if i < 10 else "approve", shadow("v-next", 0.1, "review" if i < 2 else "approve"))
    for i in range(30)
]  # fmt: skip
OTHERS: list[Stored] = [
    # A second pair, v-test and v-old, three decisions: one fraud, too few to tell.
    ("o1", week(1) + 3 * DAY, "v-test", 0.3, "approve", shadow("v-old", 0.7, "review")),
    ("o2", week(1) + 4 * DAY, "v-test", 0.6, "review", shadow("v-old", 0.2, "approve")),
    ("o3", week(2) + 3 * DAY, "v-test", 0.1, "approve", shadow("v-old", 0.1, "approve")),
    # Without a challenger: in no compared figure.
    ("n1", week(0) + 2 * DAY, "v-test", 0.99, "decline", None),
    ("n2", week(2) + 2 * DAY, "v-test", 0.1, "approve", None),
    # Last week (immature): a fraud only the challenger declines, kept out of the verdict.
    ("i1", week(3) + DAY, "v-test", 0.2, "approve", shadow("v-next", 0.9, "decline")),
    # Outside the period.
    ("x1", SINCE - DAY, "v-test", 0.2, "approve", shadow("v-next", 0.9, "decline")),
]
STORED = FRAUD + GENUINE + OTHERS
FRAUDS = [*(tx for tx, *_ in FRAUD), "o1", "n1", "i1", "x1"]
# Half the genuine ones cleared by an analyst, the other half nobody labelled (mature).
CLEARED = [f"g{i}" for i in range(0, 30, 2)] + ["o2"]


async def store(schema: str, decisions: list[Stored]) -> None:
    conn = await asyncpg.connect(DATABASE_URL)
    try:
        await upgrade(conn, schema)
        await conn.execute(f'SET search_path TO "{schema}"')
        rows = []
        for tx, at, version, score, decision, challenger in decisions:
            event = decided_event(tx, at, score, decision, version=version, challenger=challenger)
            rows.append(decode(event))
        await write_batch(conn, rows, [])
        await conn.executemany(
            "INSERT INTO feedback (scope, transaction_id, source, label, reported_at) "
            "VALUES ('k_test', $1, $2, $3, $4)",
            [(tx, "chargeback", "fraud", NOW - DAY) for tx in FRAUDS if tx in {d[0] for d in decisions}]
            + [(tx, "analyst", "legitimate", NOW - DAY) for tx in CLEARED if tx in {d[0] for d in decisions}],
        )  # fmt: skip
    finally:
        await conn.close()


def report(report_env: dict[str, str], out: Path, *more: str) -> Any:
    args = ["report", "--since", SINCE.isoformat(), "--until", UNTIL.isoformat(), "--out", str(out)]
    return CliRunner().invoke(cli, [*args, *more], env=report_env)


def test_the_champion_and_the_challenger_side_by_side_on_the_same_decisions(
    schema: str, report_env: dict[str, str], tmp_path: Path
) -> None:
    asyncio.run(store(schema, STORED))
    out = tmp_path / "report"
    result = report(report_env, out, "--compare")
    assert result.exit_code == 0, result.output
    figures = orjson.loads(result.stdout)
    assert orjson.loads((out / "report.json").read_bytes()) == figures
    # The plain report is there, over every decision of the period (66 of them).
    assert sum(w["decisions"] for w in figures["weeks"]) == 66
    compare = figures["compare"]
    # 60 + 3 + 1 decisions with a challenger in the period, 2 without.
    assert (compare["decisions"], compare["without_challenger"], compare["min_fraud"]) == (
        64,
        2,
        30,
    )
    first, second = compare["pairs"]
    assert (first["champion_model_version"], first["challenger_model_version"]) == (
        "v-test",
        "v-next",
    )
    assert first["decisions"] == 61
    ours, theirs = first["champion"]["period"], first["challenger"]["period"]
    for side in (ours, theirs):
        # The same decisions and labels: 30 frauds, 30 genuine (15 nobody labelled).
        assert (side["decisions"], side["fraud"], side["legitimate"]) == (60, 30, 30)
        assert (side["unlabelled"], side["pending"]) == (15, 0)
    assert ours["average_precision"] == pytest.approx(0.75)
    assert (ours["flagged"], ours["declines"], ours["reviews"]) == (30, 30, 0)
    assert ours["precision"] == pytest.approx(2 / 3)
    assert ours["recall"] == pytest.approx(2 / 3)
    assert ours["false_positive_rate"] == pytest.approx(1 / 3)
    assert ours["review_cost"] == 0.0
    assert ours["money"] == [
        {
            "currency": "EUR",
            "fraud_amount": 300.0,
            "fraud_declined": 200.0,
            "fraud_review": 0.0,
            "fraud_approved": 100.0,
            "legitimate_declined": 100.0,
            "pending_amount": 0.0,
            "value_detection_rate": pytest.approx(2 / 3),
        }
    ]
    assert theirs["average_precision"] == 1.0
    assert (theirs["flagged"], theirs["declines"], theirs["reviews"]) == (32, 25, 7)
    assert theirs["precision"] == pytest.approx(30 / 32)
    assert theirs["recall"] == 1.0
    assert theirs["false_positive_rate"] == pytest.approx(2 / 30)
    assert theirs["review_cost"] == 21.0  # FRAUD_REVIEW_COST 3
    assert theirs["money"] == [
        {
            "currency": "EUR",
            "fraud_amount": 300.0,
            "fraud_declined": 250.0,
            "fraud_review": 50.0,
            "fraud_approved": 0.0,
            "legitimate_declined": 0.0,
            "pending_amount": 0.0,
            "value_detection_rate": 1.0,
        }
    ]
    assert first["verdict"] == {
        "winner": "challenger",
        "champion_average_precision": pytest.approx(0.75),
        "challenger_average_precision": 1.0,
        "difference": pytest.approx(0.25),
        "fraud": 30,
        "min_fraud": 30,
        "reason": "The challenger won: average precision 1.000 against 0.750 (challenger "
        "minus champion +0.250) over the mature weeks, on 30 labelled frauds.",
    }
    # Last week's fraud (only the challenger declined it) is apart, not in the verdict.
    immature = first["challenger"]["immature"]
    assert (immature["decisions"], immature["fraud"], immature["recall"]) == (1, 1, 1.0)
    assert first["champion"]["immature"]["recall"] == 0.0
    assert [w["mature"] for w in first["champion"]["weeks"]] == [True, True, True, False, False]
    # The second pair: one fraud, too few to tell.
    assert (second["challenger_model_version"], second["decisions"]) == ("v-old", 3)
    assert second["verdict"]["winner"] is None
    assert second["verdict"]["fraud"] == 1
    assert second["champion"]["period"]["average_precision"] == pytest.approx(1 / 2)
    assert second["challenger"]["period"]["average_precision"] == 1.0

    assert sorted(p.name for p in out.iterdir()) == [
        "business_EUR.png",
        "compare.png",
        "quality.png",
        "report.json",
        "report.md",
    ]
    height, width, _ = matplotlib.image.imread(out / "compare.png").shape
    assert (width, height) >= (600, 400)
    markdown = (out / "report.md").read_text()
    section = markdown[markdown.index("## Champion and challenger") :]
    assert "### Champion v-test, challenger v-next (61 decisions)" in section
    assert "**The challenger won: average precision 1.000 against 0.750" in section
    assert "| average precision | 0.750 | 1.000 | +0.250 |" in section
    assert "| fraud approved (missed) (EUR) | 100.00 | 0.00 | -100.00 |" in section
    assert "### Champion v-test, challenger v-old (3 decisions)" in section
    assert "**Too few labelled frauds to tell: 1 in the mature weeks" in section
    assert section.index("v-next (61") < section.index("v-old (3")
    assert "Champion and challenger, mature weeks: v-test and v-next" in result.stderr
    assert "The challenger won" in result.stderr


def test_without_compare_the_report_is_the_plain_one(
    schema: str, report_env: dict[str, str], tmp_path: Path
) -> None:
    asyncio.run(store(schema, STORED))
    out = tmp_path / "report"
    result = report(report_env, out)
    assert result.exit_code == 0, result.output
    assert "compare" not in orjson.loads(result.stdout)
    assert not (out / "compare.png").exists()
    assert "Champion and challenger" not in (out / "report.md").read_text()


def test_a_period_without_a_challenger_is_an_error_and_writes_nothing(
    schema: str, report_env: dict[str, str], tmp_path: Path
) -> None:
    asyncio.run(store(schema, [d for d in STORED if d[5] is None or d[0] == "x1"]))
    out = tmp_path / "report"
    result = report(report_env, out, "--compare")
    assert result.exit_code == 2
    assert "carried a challenger (2 decisions, none scored in shadow)" in result.output
    assert not out.exists()
