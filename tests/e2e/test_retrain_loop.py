"""Retraining from what the engine stored, with the commands a user runs: a history replayed
through a real `fraud serve`, stored by a real `fraud consume`, labelled through
/v1/feedback; then `fraud export`, `fraud train` on the export, and a hot reload that
puts the new model in service."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from pathlib import Path

import asyncpg
import httpx
import orjson
import pandas as pd
import pytest

from app.auth import digest
from app.schemas.score import EXAMPLE
from cli.traffic import replay
from ensemble.manifest import Manifest
from features.dataset import read_transactions, write_transactions
from localservers import TansuBroker, delete_keys, free_port, stop, wait_until_ready
from synthetic.generator import GeneratorConfig, generate
from tests.pg import DATABASE_URL, drop_schema, query
from tests.servers import shared_redis_url

FRAUD = str(Path(sys.executable).with_name("fraud"))
KEY = "k-retrain"
# Small, and long enough for `fraud train`'s split: the 7-day warm-up, two one-day gaps,
# then train, validation and test with fraud in each (14, 28 and 6 of 3,067 rows).
HISTORY = GeneratorConfig(days=19, cards=200, seed=6)
LABEL_AFTER = timedelta(days=5)  # chargebacks come back days after the transaction


def fraud(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """A `fraud` command to its end: its work is bounded, the test's timeout bounds it."""
    done = subprocess.run(
        [FRAUD, *args], env=env, cwd=cwd, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, (args, done.stderr)
    return done


@contextmanager
def running(args: list[str], env: dict[str, str], cwd: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A `fraud` command in the background, stopped with SIGTERM as a supervisor would (a
    process left running would warn when collected, in another test); its stderr goes to a
    file (a pipe nobody reads would fill and stall it)."""
    log = cwd / f"{args[0]}.stderr"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [FRAUD, *args], env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=stderr
        )
        try:
            yield process
        finally:
            stop(process, 30)  # SIGTERM; SIGKILL only if it does not exit
    assert "Traceback" not in log.read_text()
    assert process.returncode != -signal.SIGKILL, f"`fraud {args[0]}` ignored SIGTERM"


def stored_rows(schema: str) -> int:
    try:
        return int(query(schema, "SELECT count(*) FROM decisions")[0][0])
    except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
        return 0  # the consumer has not migrated yet


@pytest.fixture
def stack(tmp_path: Path, bundle_dir: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """`fraud serve` and `fraud consume` on a tansu broker, the suite's Redis and
    PostgreSQL, the model in service behind the symlink models/current; the API's URL and
    the environment every command here shares."""
    schema, prefix = f"t_{uuid.uuid4().hex[:10]}", f"retrain{uuid.uuid4().hex[:8]}"
    models = tmp_path / "models"
    models.mkdir()
    os.symlink(bundle_dir, models / "current")
    redis_url = shared_redis_url()
    port = free_port()
    with ExitStack() as stack:
        broker = TansuBroker().start()
        stack.callback(broker.cleanup)
        stack.callback(drop_schema, schema)
        stack.callback(delete_keys, redis_url, prefix)
        env = os.environ | {
            "FRAUD_ENVIRONMENT": "test",
            "FRAUD_API_KEYS": digest(KEY),
            "FRAUD_REDIS_URL": redis_url,
            "FRAUD_REDIS_PREFIX": prefix,
            "FRAUD_DATABASE_URL": DATABASE_URL,
            "FRAUD_DATABASE_SCHEMA": schema,
            "FRAUD_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
            "FRAUD_AUDIT_IDEMPOTENCE": "false",  # tansu refuses InitProducerId
            "FRAUD_CONSUMER_GROUP": f"g-{schema}",
            "FRAUD_SPOOL_PATH": str(tmp_path / "audit.spool"),
            "FRAUD_MODEL_DIR": str(models / "current"),
            "FRAUD_EVENT_TIME": "replay",  # `fraud replay` sends a generated history
        }
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        base = f"http://127.0.0.1:{port}"
        api = stack.enter_context(running(["serve", "--port", str(port)], env, tmp_path))
        stack.enter_context(running(["consume"], env, tmp_path))
        wait_until_ready(base, api)
        yield base, env


def wait_until_stored(schema: str, rows: int, stalled_s: float = 60) -> None:
    """Until the consumer has stored `rows` decisions; fails only once it stores none for
    `stalled_s`, so a slow machine gets the time its work takes."""
    stored, progressed = stored_rows(schema), time.monotonic()
    while stored < rows:
        assert time.monotonic() - progressed < stalled_s, f"the consumer stalled at {stored}"
        time.sleep(0.2)  # a poll step: the count is read again until the condition holds
        now = stored_rows(schema)
        if now > stored:
            stored, progressed = now, time.monotonic()


# A hang guard on the test's own work (the stack's start-up has its own bounded waits).
@pytest.mark.timeout(600, func_only=True)
def test_decisions_stored_and_labelled_train_the_model_the_api_reloads(
    stack: tuple[str, dict[str, str]], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    base, env = stack
    history = generate(HISTORY)
    write_transactions(history.drop(columns=["is_fraud", "scenario"]), tmp_path / "traffic.csv")
    # No per-request timeout here either: a reload on a busy machine takes what it takes.
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {KEY}"}, timeout=None)
    request.addfinalizer(api.close)

    # What the gateway sends, through the client `fraud replay` runs: the history, event
    # times in the past. Every answer is awaited (no per-request timeout): the test checks
    # that each transaction is answered, not how fast a busy machine answers it.
    replayed = asyncio.run(
        replay(tmp_path / "traffic.csv", base, 2_000, KEY, concurrency=32, timeout_s=None)
    )
    assert replayed["statuses"] == {200: len(history)}, replayed["errors"]
    wait_until_stored(env["FRAUD_DATABASE_SCHEMA"], len(history))

    # Chargebacks for the fraud, days after each transaction.
    frauds = history[history["is_fraud"] == 1]
    reported = {
        row.transaction_id: pd.Timestamp(row.timestamp).tz_convert("UTC") + LABEL_AFTER
        for row in frauds.itertuples()
    }
    for transaction_id, at in reported.items():
        answer = api.post(
            "/v1/feedback",
            json={
                "transaction_id": transaction_id,
                "label": "fraud",
                "source": "chargeback",
                "reported_at": at.isoformat(),
            },
        )
        assert answer.status_code == 201, answer.text

    start = HISTORY.start.date()
    exported = fraud(
        "export",
        *("--since", str(start), "--until", str(start + timedelta(days=HISTORY.days + 1))),
        *("--out", "export.parquet"),
        env=env,
        cwd=tmp_path,
    )
    summary = orjson.loads(exported.stdout)
    assert (summary["rows"], summary["labelled"]) == (len(history), len(frauds))
    rows = read_transactions(tmp_path / "export.parquet").set_index("transaction_id")
    assert rows["is_fraud"].to_dict() == history.set_index("transaction_id")["is_fraud"].to_dict()
    known = pd.to_datetime(rows.loc[list(reported), "label_reported_at"], utc=True)
    assert known.to_dict() == reported

    in_service = (tmp_path / "models" / "current").resolve()
    retrained = tmp_path / "models" / "retrained"
    fraud(
        "train",
        *("--data", "export.parquet", "--out", str(retrained), "--trees", "30"),
        *("--compare-with", str(in_service)),
        env=env,
        cwd=tmp_path,
    )
    new = Manifest.read(retrained)
    assert new.training_data["fraud_rows"] == len(frauds)
    # The report scores the bundle in service on the new bundle's held-back test rows.
    previous = new.metrics["previous_bundle"]
    assert previous["scored"], previous
    assert previous["model_version"] == Manifest.read(in_service).model_version
    assert previous["metrics"]["rows"] == new.metrics["test"]["rows"]
    assert "## Against the bundle in service (test)" in (retrained / "report.md").read_text()

    # Deploy: move the symlink in one rename, then reload.
    swap = tmp_path / "models" / "current.next"
    os.symlink(retrained, swap)
    os.replace(swap, tmp_path / "models" / "current")
    reload = api.post("/v1/admin/reload")
    assert reload.status_code == 200, reload.text
    assert reload.json() == {
        "model_version": new.model_version,
        "previous": Manifest.read(in_service).model_version,
    }
    answer = api.post("/v1/score", json=EXAMPLE | {"transaction_id": "after-reload"})
    assert answer.json()["model_version"] == new.model_version
