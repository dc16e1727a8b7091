"""`fraud export` on the real PostgreSQL: decisions scored by the API and stored by the
consumer, labels posted to /v1/feedback, the period's training file read back."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from app.settings import get_settings
from cli.main import cli
from features.dataset import read_transactions
from localservers import TansuBroker, free_port
from persistence.consumer import ConsumerConfig
from tests.integration.test_score_api import body
from tests.pg import DATABASE_URL, consume_until, query
from tests.unit.persistence.test_export import COLUMNS

START = datetime(2026, 11, 20, tzinfo=UTC)
SINCE, UNTIL = "2026-11-20", "2026-11-21T01:00:00+01:00"  # [00:00Z, 24:00Z)


def at(hours: float) -> datetime:
    return START + timedelta(hours=hours)


def sent() -> list[dict[str, Any]]:
    """The transactions scored: ten inside the period, one on each side just outside."""
    inside = [
        body(
            transaction_id=f"e{i}",
            card_id=f"card_e{i % 3}",
            amount=10.0 + i,
            timestamp=at(2 * i + 0.5).isoformat(),
        )
        for i in range(1, 9)
    ]
    return [
        body(transaction_id="before", timestamp=(START - timedelta(milliseconds=1)).isoformat()),
        # The first instant of the period, written with another offset.
        body(transaction_id="first", timestamp="2026-11-20T02:00:00+02:00"),
        *inside,
        # Optional fields absent: empty in the file.
        body(
            transaction_id="sparse",
            timestamp=at(20).isoformat(),
            device_id=None,
            ip_address=None,
            latitude=None,
            longitude=None,
            account_id=None,
        ),
        body(transaction_id="end", timestamp=at(24).isoformat()),  # --until is excluded
    ]


# (transaction, source, label, reported days after START)
FEEDBACK = [
    ("e1", "chargeback", "fraud", 9),
    ("e2", "chargeback", "fraud", 8),
    ("e2", "analyst", "legitimate", 10),  # cleared later: legitimate
    ("e3", "analyst", "legitimate", 2),
    ("e4", "issuer", "fraud", 5),
    ("e4", "chargeback", "fraud", 6),  # the latest report is the effective one
    ("end", "chargeback", "fraud", 9),  # outside the period
]


@pytest.fixture
def settings_env(schema: str) -> Iterator[dict[str, str]]:
    """The environment `fraud export` reads its database from (settings are read once)."""
    get_settings.cache_clear()
    yield {"FRAUD_DATABASE_URL": DATABASE_URL, "FRAUD_DATABASE_SCHEMA": schema}
    get_settings.cache_clear()


@pytest.fixture
def stored(
    broker: TansuBroker, schema: str, audited_client: TestClient
) -> dict[str, dict[str, Any]]:
    """Every transaction of sent() scored (e3 twice), stored by the consumer, and the
    FEEDBACK posted; the answers by id."""
    answers = {}
    for tx in sent():
        r = audited_client.post("/v1/score", json=tx)
        assert r.status_code == 200, r.text
        answers[tx["transaction_id"]] = r.json()
    retry = audited_client.post(
        "/v1/score", json=next(t for t in sent() if t["transaction_id"] == "e3")
    )
    assert retry.json() == answers["e3"]
    config = ConsumerConfig(
        broker.bootstrap, "transactions.scored", f"g-{schema}", DATABASE_URL, schema
    )
    assert asyncio.run(consume_until(config, len(answers), 0)) == (len(answers), 0)
    for transaction_id, source, label, days in FEEDBACK:
        report = {
            "transaction_id": transaction_id,
            "source": source,
            "label": label,
            "reported_at": (START + timedelta(days=days)).isoformat(),
        }
        assert audited_client.post("/v1/feedback", json=report).status_code == 201
    return answers


def export(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(cli, ["export", *args], env=env)


def test_the_period_is_exported_with_its_effective_labels(
    stored: dict[str, dict[str, Any]], settings_env: dict[str, str], schema: str, tmp_path: Path
) -> None:
    out = tmp_path / "export.parquet"
    result = export(settings_env, "--since", SINCE, "--until", UNTIL, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout) == {
        "rows": 10,
        "labelled": 4,
        "fraud": 2,
        "legitimate": 2,
        "unlabelled": 6,
    }
    assert "6 exported as legitimate" in result.stderr
    frame = read_transactions(out)
    assert list(frame.columns) == COLUMNS
    ids = ["first", *(f"e{i}" for i in range(1, 9)), "sparse"]
    assert frame["transaction_id"].tolist() == ids  # event-time order, once each

    fraud = {"e1": START + timedelta(days=9), "e4": START + timedelta(days=6)}
    for row in frame.to_dict("records"):
        transaction_id = row["transaction_id"]
        assert row["is_fraud"] == (transaction_id in fraud)
        reported = row["label_reported_at"]
        if transaction_id in fraud:
            assert datetime.fromisoformat(reported) == fraud[transaction_id]
        else:
            assert pd.isna(reported)
        answer = stored[transaction_id]
        assert (row["score"], row["risk_tier"], row["decision"], row["model_version"]) == (
            answer["score"],
            answer["risk_tier"],
            answer["decision"],
            answer["model_version"],
        )

    # The request fields exactly as stored, offsets included; absent ones empty.
    (request,) = query(
        schema, "SELECT request::text FROM decisions WHERE transaction_id = 'first'"
    )[0]
    first = frame.iloc[0]
    for name, value in orjson.loads(request).items():
        assert first[name] == value, name
    assert first["timestamp"] == "2026-11-20T02:00:00+02:00"
    sparse = frame.iloc[-1]
    for name in ("device_id", "ip_address", "account_id", "latitude", "longitude"):
        assert pd.isna(sparse[name]), name

    # The same file as CSV, read a few rows at a time.
    as_csv = tmp_path / "export.csv"
    small = export(
        settings_env,
        *("--since", SINCE, "--until", UNTIL, "--out", str(as_csv), "--batch-rows", "3"),
    )
    assert small.exit_code == 0, small.output
    pd.testing.assert_frame_equal(read_transactions(as_csv), frame, check_dtype=False)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "2026-11-21", "--until", "2026-11-20"], "is not after"),
        (["--since", "2026-11-20", "--until", "2026-11-20"], "is not after"),
        (["--since", "last week", "--until", "2026-11-20"], "neither an RFC 3339 time nor a date"),
        (["--since", "2026-11-20T00:00:00", "--until", "2026-11-21"], "no UTC offset"),
        (["--out", "x.json"], "unknown file type"),
    ],
)
def test_bad_options_are_refused_and_nothing_is_written(
    settings_env: dict[str, str], tmp_path: Path, args: list[str], message: str
) -> None:
    options = {"--since": "2026-11-20", "--until": "2026-11-21", "--out": str(tmp_path / "x.csv")}
    for name, value in zip(args[::2], args[1::2], strict=True):
        options[name] = str(tmp_path / value) if name == "--out" else value
    result = export(settings_env, *(part for pair in options.items() for part in pair))
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_without_the_database_or_its_tables_nothing_is_written(
    settings_env: dict[str, str], tmp_path: Path
) -> None:
    period = ("--since", "2026-11-20", "--until", "2026-11-21", "--out", str(tmp_path / "x.csv"))
    down = settings_env | {"FRAUD_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/x"}
    unreachable = export(down, *period)
    assert unreachable.exit_code == 2, unreachable.output
    assert "PostgreSQL (FRAUD_DATABASE_URL) unreachable" in unreachable.stderr

    get_settings.cache_clear()
    empty = export(settings_env, *period)  # the test's schema: no table in it yet
    assert empty.exit_code == 2, empty.output
    assert "has no decisions" in empty.stderr
    assert list(tmp_path.iterdir()) == []
