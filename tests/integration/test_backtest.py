"""Rule backtests on the real PostgreSQL: decisions and labels stored, the backtest run on
them, and the same rows exported by `fraud export` backtested by `fraud rules backtest`:
the counts are those of replaying the same rows."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import persistence.backtest
from app import backtests
from app.main import create_app
from app.schemas.score import EXAMPLE
from app.settings import get_settings
from cli.main import cli
from controls import expression
from controls.backtest import BacktestReport, ConditionFailed
from controls.expression import ExpressionError
from features.dataset import write_transactions
from persistence.backtest import LOOKBACK, QUERY, BacktestTooLarge, backtest_stored, frame
from persistence.message_format import audit_event
from persistence.migrations import upgrade
from persistence.writer import decode, write_batch
from tests.integration.conftest import API_KEY, make_settings
from tests.pg import DATABASE_URL

DECISIONS = {"low": "approve", "medium": "review", "high": "review", "critical": "decline"}
START = datetime(2026, 11, 10, tzinfo=UTC)
SINCE, UNTIL = START + timedelta(days=2), START + timedelta(days=4)
TIER_OF = ("low", "low", "medium", "high", "low", "critical")
# A rule on the replayed features (the card's earlier transactions), a field and the tier.
CONDITION = 'card_count_24h >= 1 and amount > 30 and risk_tier <= "high"'


def transactions() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Four days of three cards, every five hours: the first two days are the look-back."""
    out = []
    for i in range(4 * 24 // 5 + 1):
        at = START + timedelta(hours=5 * i, minutes=i)
        tier = TIER_OF[i % len(TIER_OF)]
        tx = f"b{i}"
        request = dict(EXAMPLE) | {
            "transaction_id": tx,
            "timestamp": at.isoformat(),
            "card_id": f"card_{i % 3}",
            "amount": 10.0 + 7 * i,
            "currency": ("EUR", "USD")[i % 2],
        }
        response = {
            "transaction_id": tx,
            "score": {"low": 0.1, "medium": 0.5, "high": 0.8, "critical": 0.97}[tier],
            "risk_tier": tier,
            "decision": DECISIONS[tier],
            "reasons": [],
            "components": {"xgboost": 0.5, "isolation_forest": 0.4},
            "model_version": "v-test",
            "degraded": False,
            "latency_ms": 1.0,
        }
        out.append((request, response))
    return out


def labels() -> list[tuple[str, str, str, datetime]]:
    """(transaction, source, label, reported_at): fraud, legitimate, a fraud cleared later,
    and unlabelled rows."""
    out = []
    for i in range(0, 20, 3):
        out.append((f"b{i}", "chargeback", "fraud", START + timedelta(days=1 + i / 4)))
    for i in range(1, 20, 4):
        out.append((f"b{i}", "analyst", "legitimate", START + timedelta(days=5)))
    out.append(("b9", "issuer", "legitimate", START + timedelta(days=9)))  # clears b9
    return out


async def store(schema: str) -> None:
    conn = await asyncpg.connect(DATABASE_URL)
    try:
        await upgrade(conn, schema)
        await conn.execute(f'SET search_path TO "{schema}"')
        rows = [
            decode(
                audit_event(request, orjson.dumps(response), START + timedelta(days=6), "k_test")
            )
            for request, response in transactions()
        ]
        await write_batch(conn, rows, [])
        await conn.executemany(
            "INSERT INTO feedback (scope, transaction_id, source, label, reported_at) "
            "VALUES ('k_test', $1, $2, $3, $4)",
            labels(),
        )
    finally:
        await conn.close()


async def stored_report(schema: str, max_rows: int = 1_000, **kw: Any) -> BacktestReport:
    pool = await asyncpg.create_pool(
        DATABASE_URL, min_size=1, max_size=1, server_settings={"search_path": schema}
    )
    try:
        return await backtest_stored(
            pool, kw.get("condition", CONDITION), kw.get("action", "decline"), SINCE, UNTIL,
            DECISIONS, max_rows, lookback=kw.get("lookback", LOOKBACK),
        )  # fmt: skip
    finally:
        await pool.close()


async def stored_rows(schema: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(DATABASE_URL, server_settings={"search_path": schema})
    try:
        return list(await conn.fetch(QUERY, START - timedelta(days=40), UNTIL))
    finally:
        await conn.close()


def cli_report(data: Path, env: dict[str, str]) -> dict[str, Any]:
    result = CliRunner().invoke(
        cli,
        ["rules", "backtest", "--data", str(data), "--condition", CONDITION,
         "--action", "decline", "--since", SINCE.isoformat(), "--until", UNTIL.isoformat()],
        env=env,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = orjson.loads(result.stdout)
    return report


@pytest.fixture
def env(schema: str) -> dict[str, str]:
    get_settings.cache_clear()
    yield {
        "FRAUD_DATABASE_URL": DATABASE_URL,
        "FRAUD_DATABASE_SCHEMA": schema,
        "FRAUD_DECISIONS": ",".join(f"{k}={v}" for k, v in DECISIONS.items()),
    }
    get_settings.cache_clear()


def test_a_backtest_counts_what_replaying_the_same_rows_counts(
    schema: str, env: dict[str, str], tmp_path: Path
) -> None:
    asyncio.run(store(schema))
    stored = asyncio.run(stored_report(schema)).as_json()
    assert stored["rows"] == sum(SINCE <= datetime.fromisoformat(r["timestamp"]) < UNTIL
                                 for r, _ in transactions())  # fmt: skip
    assert stored["hits"] > 0
    assert stored["hits_fraud"] > 0
    assert stored["hits_legitimate"] > 0
    assert stored["hits_unlabelled"] > 0
    assert stored["decision_changes"]
    # The first rows of the period see the cards' transactions of the look-back.
    blind = asyncio.run(stored_report(schema, lookback=timedelta(0)))
    assert blind.rows == stored["rows"]
    assert blind.hits < stored["hits"]

    # The same rows as a file with their effective labels: every count the same.
    same = tmp_path / "same.csv"
    write_transactions(frame(asyncio.run(stored_rows(schema))), same)
    assert cli_report(same, env) == stored

    # The file `fraud export` writes: unlabelled transactions are exported as legitimate.
    exported = tmp_path / "export.parquet"
    result = CliRunner().invoke(
        cli,
        ["export", "--since", (START - timedelta(days=40)).isoformat(),
         "--until", UNTIL.isoformat(), "--out", str(exported)],
        env=env,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    replayed = cli_report(exported, env)
    legitimate_or_not = stored["hits_legitimate"] + stored["hits_unlabelled"]
    assert replayed["hits_legitimate"] == legitimate_or_not
    assert replayed["hits_unlabelled"] == 0
    for key in ("rows", "hits", "hits_fraud", "fraud", "fraud_amount_caught",
                "fraud_amount_total", "decision_changes", "recall"):  # fmt: skip
        assert replayed[key] == stored[key], key


def test_a_period_too_large_or_a_bad_rule_is_refused(schema: str) -> None:
    asyncio.run(store(schema))
    with pytest.raises(BacktestTooLarge, match="a backtest reads at most 3"):
        asyncio.run(stored_report(schema, max_rows=3))
    with pytest.raises(ExpressionError, match="unknown name 'amout'"):
        asyncio.run(stored_report(schema, condition="amout > 1"))


@pytest.fixture
def api(redis_url: str, prefix: str, bundle_dir: Path, schema: str) -> Iterator[TestClient]:
    settings = make_settings(
        redis_url,
        prefix,
        bundle_dir,
        database_url=DATABASE_URL,
        database_schema=schema,
        decisions=",".join(f"{k}={v}" for k, v in DECISIONS.items()),
        backtest_max_rows=1_000,
    )
    with TestClient(create_app(settings)) as c:
        c.headers["Authorization"] = f"Bearer {API_KEY}"
        yield c


def backtest_body(**changes: Any) -> dict[str, Any]:
    return {
        "condition": CONDITION,
        "action": "decline",
        "since": SINCE.isoformat(),
        "until": UNTIL.isoformat(),
    } | changes


def test_the_backtest_endpoint_reports_what_the_stored_backtest_does(
    api: TestClient, schema: str
) -> None:
    asyncio.run(store(schema))
    r = api.post("/v1/rules/backtest", json=backtest_body())
    assert r.status_code == 200, r.text
    assert r.json() == asyncio.run(stored_report(schema)).as_json()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"condition": "amout > 1"}, "unknown name 'amout'"),
        ({"action": "raise_to:extreme"}, "action"),
        ({"until": SINCE.isoformat(), "since": UNTIL.isoformat()}, "is not after"),
    ],
)
def test_a_bad_backtest_is_refused_with_422(
    api: TestClient, schema: str, change: dict[str, Any], message: str
) -> None:
    asyncio.run(store(schema))
    r = api.post("/v1/rules/backtest", json=backtest_body(**change))
    assert r.status_code == 422, r.text
    assert message in r.text


def test_a_backtest_past_its_rows_or_time_is_stopped(
    redis_url: str, prefix: str, bundle_dir: Path, schema: str
) -> None:
    asyncio.run(store(schema))
    for limits, status in (({"backtest_max_rows": 3}, 422), ({"backtest_timeout_s": 0.01}, 504)):
        settings = make_settings(
            redis_url, prefix, bundle_dir, database_url=DATABASE_URL, database_schema=schema,
            **limits,
        )  # fmt: skip
        with TestClient(create_app(settings)) as c:
            r = c.post(
                "/v1/rules/backtest",
                json=backtest_body(),
                headers={"Authorization": f"Bearer {API_KEY}"},
            )
        assert r.status_code == status, r.text


def test_a_period_without_transactions_reports_nothing(api: TestClient, schema: str) -> None:
    asyncio.run(store(schema))
    empty = {"since": "2020-01-01T00:00:00Z", "until": "2020-02-01T00:00:00Z"}
    r = api.post("/v1/rules/backtest", json=backtest_body(**empty))
    assert r.status_code == 200, r.text
    assert (r.json()["rows"], r.json()["hits"], r.json()["fraud"]) == (0, 0, 0)


def test_a_child_that_fails_is_answered_in_the_envelope(
    api: TestClient, schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hostile run's backtest crashed its child, and the API process raised: a 500
    outside the envelope and a reset connection."""
    asyncio.run(store(schema))
    monkeypatch.setattr(backtests, "JOB", "tests.integration.failing_backtest_job")
    r = api.post("/v1/rules/backtest", json=backtest_body())
    assert r.status_code == 503, r.text
    assert r.json()["error"] == "unavailable"
    assert "exit status 70" in r.json()["detail"]


def test_a_condition_that_raises_on_the_rows_is_refused_naming_it(
    schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    asyncio.run(store(schema))
    with monkeypatch.context() as lifted:  # past the compiler's bounds: it raises when run
        lifted.setattr(expression, "MAX_DEPTH", 10_000)
        lifted.setattr(expression, "MAX_OPERATIONS", 10_000)
        deep = expression.compile_condition("score" + "+1" * 900 + " > 0")
    monkeypatch.setattr(persistence.backtest, "compile_condition", lambda _: deep)
    with pytest.raises(ConditionFailed, match=r"cannot be evaluated on these rows \(Recursion"):
        asyncio.run(stored_report(schema))
