"""The performance report on the real PostgreSQL: decisions and labels stored, `fraud
report` run on them (files written, figures as computed by hand) and the same figures from
GET /v1/reports/performance."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import matplotlib.image
import orjson
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.auth import digest, key_id
from app.main import create_app
from cli.main import cli
from monitoring.figures import week_start
from persistence.migrations import upgrade
from persistence.writer import decode, write_batch
from tests.audit_events import decided_event
from tests.integration.conftest import API_KEY, make_settings
from tests.pg import DATABASE_URL

NOW = datetime.now(UTC)
# Five ISO weeks: three mature ones (their last day at least 7 days ago), last week
# (immature: it ended less than 7 days ago) and this one (no transactions yet).
THIS_WEEK = week_start(NOW)
SINCE, UNTIL = THIS_WEEK - timedelta(weeks=4), THIS_WEEK + timedelta(weeks=1)
DAY = timedelta(days=1)


def week(n: int) -> datetime:
    """The start of the nth week of the period."""
    return SINCE + n * timedelta(weeks=1)


# A transaction of last week nobody labelled, younger than the label delay: pending.
YOUNG = max(week(3), NOW - 7 * DAY) + (THIS_WEEK - max(week(3), NOW - 7 * DAY)) / 2

# (transaction, event time, amount, score, decision)
Decision = tuple[str, datetime, float, float, str]
DECISIONS: list[Decision] = [
    ("before", SINCE - DAY, 999.0, 0.99, "decline"),  # outside the period
    ("t1", week(0) + DAY, 100.0, 0.95, "decline"),  # fraud, declined
    ("t2", week(0) + 2 * DAY, 40.0, 0.6, "review"),  # cleared: legitimate
    ("t3", week(0) + 3 * DAY, 10.0, 0.1, "approve"),  # unlabelled, mature
    ("t4", week(1) + DAY, 50.0, 0.2, "approve"),  # fraud, missed
    ("t5", week(1) + 2 * DAY, 30.0, 0.9, "decline"),  # unlabelled, mature: legitimate
    ("t6", week(2) + DAY, 20.0, 0.1, "approve"),  # a week without fraud
    ("t7", week(2) + 2 * DAY, 15.0, 0.55, "review"),  # legitimate
    ("t8", week(3) + DAY, 70.0, 0.7, "review"),  # fraud, in the immature week
    ("t9", YOUNG, 5.0, 0.1, "approve"),  # pending
]
# (transaction, source, label, reported_at)
LABELS = [
    ("before", "chargeback", "fraud", NOW - DAY),
    ("t1", "chargeback", "fraud", week(1)),
    ("t2", "case:7", "fraud", week(1)),
    ("t2", "analyst", "legitimate", week(1) + DAY),  # the latest report wins
    ("t4", "chargeback", "fraud", week(3)),
    ("t7", "analyst", "legitimate", week(3)),
    ("t8", "issuer", "fraud", NOW - DAY),
]


async def store(
    schema: str, scope: str = "k_test", decisions: list[Decision] | None = None
) -> None:
    """DECISIONS (or `decisions`) in `scope`; LABELS too unless `decisions` are given."""
    conn = await asyncpg.connect(DATABASE_URL)
    try:
        await upgrade(conn, schema)
        await conn.execute(f'SET search_path TO "{schema}"')
        rows = []
        for tx, at, amount, score, decision in DECISIONS if decisions is None else decisions:
            rows.append(decode(decided_event(tx, at, score, decision, amount=amount, scope=scope)))
        await write_batch(conn, rows, [])
        if decisions is not None:
            return
        await conn.executemany(
            "INSERT INTO feedback (scope, transaction_id, source, label, reported_at) "
            "VALUES ('k_test', $1, $2, $3, $4)",
            LABELS,
        )
    finally:
        await conn.close()


def check_figures(report: dict[str, Any]) -> None:
    """The figures worked out by hand from DECISIONS and LABELS."""
    assert [(w["mature"], w["decisions"]) for w in report["weeks"]] == [
        (True, 3),
        (True, 2),
        (True, 2),
        (False, 2),
        (False, 0),
    ]
    period = report["period"]
    assert (period["start"], period["end"]) == (
        SINCE.isoformat().replace("+00:00", "Z"),
        week(3).isoformat().replace("+00:00", "Z"),
    )
    # t1..t7: fraud t1 and t4; legitimate t2 (cleared), t7, and t3, t5, t6 nobody labelled.
    assert (period["decisions"], period["fraud"], period["legitimate"]) == (7, 2, 5)
    assert (period["unlabelled"], period["pending"]) == (3, 0)
    # Flagged: t1, t5 declined, t2, t7 reviewed; only t1 is fraud.
    assert (period["flagged"], period["reviews"], period["declines"]) == (4, 2, 2)
    assert period["precision"] == 0.25
    assert period["recall"] == 0.5
    assert period["false_positive_rate"] == 0.6
    # Ranked: t1 (fraud) first, t4 (fraud) fifth.
    assert period["average_precision"] == pytest.approx((1 + 2 / 5) / 2)
    assert period["review_cost"] == 6.0
    assert period["money"] == [
        {
            "currency": "EUR",
            "fraud_amount": 150.0,
            "fraud_declined": 100.0,
            "fraud_review": 0.0,
            "fraud_approved": 50.0,
            "legitimate_declined": 30.0,
            "pending_amount": 0.0,
            "value_detection_rate": pytest.approx(100 / 150),
        }
    ]
    no_fraud = report["weeks"][2]
    assert (no_fraud["fraud"], no_fraud["recall"], no_fraud["average_precision"]) == (0, None, None)
    last = report["weeks"][3]
    assert (last["fraud"], last["legitimate"], last["pending"]) == (1, 0, 1)
    assert report["immature"]["decisions"] == 2
    assert report["immature"]["money"][0]["pending_amount"] == 5.0


def test_the_report_is_written_with_the_figures_of_the_stored_decisions(
    schema: str, report_env: dict[str, str], tmp_path: Path
) -> None:
    asyncio.run(store(schema))
    out = tmp_path / "report"
    result = CliRunner().invoke(
        cli,
        ["report", "--since", SINCE.isoformat(), "--until", UNTIL.isoformat(), "--out", str(out)],
        env=report_env,
    )
    assert result.exit_code == 0, result.output
    report = orjson.loads(result.stdout)
    check_figures(report)
    assert report["cost_per_review"] == 3.0  # FRAUD_REVIEW_COST
    assert orjson.loads((out / "report.json").read_bytes()) == report
    assert sorted(p.name for p in out.iterdir()) == [
        "business_EUR.png",
        "quality.png",
        "report.json",
        "report.md",
    ]
    for png in ("quality.png", "business_EUR.png"):
        height, width, _ = matplotlib.image.imread(out / png).shape
        assert (width, height) >= (600, 400)
    markdown = (out / "report.md").read_text()
    assert "2 week(s) with immature labels" in markdown
    assert "| period |" in markdown
    assert "Fraud performance by week" in result.stderr

    # The option wins over the setting.
    again = CliRunner().invoke(
        cli,
        ["report", "--since", SINCE.isoformat(), "--until", UNTIL.isoformat(),
         "--out", str(out), "--cost-per-review", "10"],
        env=report_env,
    )  # fmt: skip
    assert again.exit_code == 0, again.output
    assert orjson.loads(again.stdout)["period"]["review_cost"] == 20.0


def test_a_schema_without_decisions_is_an_error_and_writes_nothing(
    report_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "report"
    result = CliRunner().invoke(
        cli,
        ["report", "--since", SINCE.isoformat(), "--until", UNTIL.isoformat(), "--out", str(out)],
        env=report_env,
    )
    assert result.exit_code == 2
    assert "has no decisions" in result.output
    assert not out.exists()


# A key that scores and reads: it sees the decisions it scored only.
SCORER = "fk_report_scorer"


@pytest.fixture
def api(redis_url: str, prefix: str, bundle_dir: Path, schema: str) -> Iterator[TestClient]:
    settings = make_settings(
        redis_url,
        prefix,
        bundle_dir,
        api_keys=f"{digest(API_KEY)},{digest(SCORER)}",
        read_api_keys=digest(SCORER),
        admin_api_keys=digest(API_KEY),
        database_url=DATABASE_URL,
        database_schema=schema,
        label_delay_days=7.0,
        review_cost=3.0,
        report_max_rows=9,
    )
    with TestClient(create_app(settings)) as c:
        c.headers["Authorization"] = f"Bearer {API_KEY}"
        yield c


def test_the_console_reads_the_same_figures_from_the_api(api: TestClient, schema: str) -> None:
    asyncio.run(store(schema))
    period = {"since": SINCE.isoformat(), "until": UNTIL.isoformat()}
    r = api.get("/v1/reports/performance", params=period)
    assert r.status_code == 200, r.text
    check_figures(r.json())
    assert r.json()["cost_per_review"] == 3.0
    cheaper = api.get("/v1/reports/performance", params=period | {"cost_per_review": 1})
    assert cheaper.json()["period"]["review_cost"] == 2.0

    backwards = api.get(
        "/v1/reports/performance", params={"since": period["until"], "until": period["since"]}
    )
    assert backwards.status_code == 422
    assert backwards.json()["detail"][0]["field"] == "until"
    # A row a week: refused before reading (a fuzzer's year 1 to 9999 took minutes).
    ages = {"since": "0001-01-01T00:00:00Z", "until": "9999-12-31T00:00:00Z"}
    too_long = api.get("/v1/reports/performance", params=ages)
    assert too_long.status_code == 422
    assert too_long.json()["detail"][0]["field"] == "until"
    assert "at most 731" in too_long.json()["detail"][0]["message"]
    negative = api.get("/v1/reports/performance", params=period | {"cost_per_review": -1})
    assert negative.status_code == 422
    naive = api.get("/v1/reports/performance", params=period | {"since": "2026-11-02T00:00:00"})
    assert naive.status_code == 422
    # Ten decisions from a month before the period on: more than FRAUD_REPORT_MAX_ROWS.
    wide = api.get(
        "/v1/reports/performance", params=period | {"since": (SINCE - 30 * DAY).isoformat()}
    )
    assert wide.status_code == 422
    assert "at most 9" in wide.json()["detail"][0]["message"]


def test_a_key_that_scores_gets_the_figures_of_its_own_decisions(
    api: TestClient, schema: str
) -> None:
    asyncio.run(store(schema))
    asyncio.run(store(schema, key_id(SCORER), DECISIONS[1:2]))  # t1 in its scope: unlabelled
    period = {"since": SINCE.isoformat(), "until": UNTIL.isoformat()}
    own = api.get(
        "/v1/reports/performance", params=period, headers={"Authorization": f"Bearer {SCORER}"}
    )
    assert own.status_code == 200, own.text
    assert [w["decisions"] for w in own.json()["weeks"]] == [1, 0, 0, 0, 0]
    assert (own.json()["period"]["fraud"], own.json()["period"]["legitimate"]) == (0, 1)
    # The admin key counts every scope's: 9 + 1, more than FRAUD_REPORT_MAX_ROWS here.
    every = api.get("/v1/reports/performance", params=period)
    assert every.status_code == 422
    assert "holds 10 decisions" in every.json()["detail"][0]["message"]


def test_one_report_at_a_time_per_process_and_a_read_past_its_timeout_is_504(
    redis_url: str, prefix: str, bundle_dir: Path, schema: str
) -> None:
    """A key with `read` cannot pile reports onto the process that scores: a second one
    asked while one is computed gets 429, and a read held up past FRAUD_REPORT_TIMEOUT_S
    (here: the table locked by another session) is cancelled in PostgreSQL, 504."""
    from app.routes import reports

    asyncio.run(store(schema))
    settings = make_settings(
        redis_url,
        prefix,
        bundle_dir,
        database_url=DATABASE_URL,
        database_schema=schema,
        report_timeout_s=0.3,
    )
    period = {"since": SINCE.isoformat(), "until": UNTIL.isoformat()}
    with TestClient(create_app(settings)) as api:
        api.headers["Authorization"] = f"Bearer {API_KEY}"
        reports.computing += 1  # as while another report is being computed
        try:
            busy = api.get("/v1/reports/performance", params=period)
        finally:
            reports.computing -= 1
        assert busy.status_code == 429
        assert int(busy.headers["retry-after"]) >= 1
        assert api.get("/v1/reports/performance", params=period).status_code == 200

        locked, release = threading.Event(), threading.Event()

        def hold_lock() -> None:
            async def run() -> None:
                conn = await asyncpg.connect(DATABASE_URL, server_settings={"search_path": schema})
                try:
                    async with conn.transaction():
                        await conn.execute("LOCK TABLE decisions IN ACCESS EXCLUSIVE MODE")
                        locked.set()
                        await asyncio.to_thread(release.wait)
                finally:
                    await conn.close()

            asyncio.run(run())

        holder = threading.Thread(target=hold_lock)
        holder.start()
        try:
            assert locked.wait(60)
            held_up = api.get("/v1/reports/performance", params=period)
        finally:
            release.set()
            holder.join()
        assert held_up.status_code == 504, held_up.text
        assert "FRAUD_REPORT_TIMEOUT_S" in held_up.json()["detail"]
        assert api.get("/v1/reports/performance", params=period).status_code == 200
