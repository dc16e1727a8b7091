"""Retraining from what the engine stored, with the commands a user runs: a history replayed
through a real `fraud serve`, stored by a real `fraud consume`, labelled through
/v1/feedback; then `fraud export`, `fraud train` on the export, the new bundle loaded as the
challenger in shadow (its results stored beside the decisions), and `fraud promote` while
traffic flows: the API's model watch puts it in service without a restart, no request
failing (docs/retraining.md)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from pathlib import Path

import asyncpg
import httpx
import orjson
import pandas as pd
import pytest

from app.auth import digest
from cli.traffic import replay, request_bodies
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
# The days after it: the traffic the challenger shadows, then the promotion's.
NEXT = GeneratorConfig(days=6, cards=200, seed=10, start=HISTORY.start + timedelta(days=19))


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
            # Absent at start (the champion serves alone): retraining puts a bundle there.
            "FRAUD_CHALLENGER_MODEL_DIR": str(models / "challenger"),
            "FRAUD_MODEL_WATCH_S": "0.2",
            "FRAUD_EVENT_TIME": "replay",  # `fraud replay` sends a generated history
        }
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        base = f"http://127.0.0.1:{port}"
        api = stack.enter_context(running(["serve", "--port", str(port)], env, tmp_path))
        stack.enter_context(running(["consume"], env, tmp_path))
        wait_until_ready(base, api)
        yield base, env


def label(api: httpx.Client, transactions: pd.DataFrame) -> dict[str, pd.Timestamp]:
    """Chargebacks for the transactions' frauds through /v1/feedback, LABEL_AFTER each
    transaction; their report times by transaction id."""
    frauds = transactions[transactions["is_fraud"] == 1]
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
    return reported


class Traffic(threading.Thread):
    """Sends the bodies one at a time, about 30 a second, each answer's status and model
    version recorded in order. The last fifth goes out slowly (two a second) until
    `swapped` is set, so that traffic still flows after a promotion that takes its time on a
    busy machine; then at the full pace again."""

    def __init__(self, base: str, bodies: list[dict[str, object]]) -> None:
        super().__init__()
        self.base, self.bodies = base, bodies
        self.answers: list[tuple[int, str | None]] = []
        self.swapped = threading.Event()

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {KEY}"}
        with httpx.Client(base_url=self.base, headers=headers, timeout=None) as client:
            for i, body in enumerate(self.bodies):
                answer = client.post("/v1/score", json=body)
                version = answer.json().get("model_version") if answer.status_code == 200 else None
                self.answers.append((answer.status_code, version))
                slow = i >= len(self.bodies) * 4 // 5 and not self.swapped.is_set()
                time.sleep(0.5 if slow else 1 / 30)  # the traffic's pace, not a wait


def wait_until(condition: Callable[[], bool], what: str, stalled_s: float = 120) -> None:
    """Until `condition` holds; the budget is a hang guard, far above what the work takes."""
    deadline = time.monotonic() + stalled_s
    while not condition():
        assert time.monotonic() < deadline, f"waited {stalled_s:g} s for {what}"
        time.sleep(0.05)  # a poll step


def wait_for_models(api: httpx.Client, champion: str, challenger: str) -> None:
    """Until the API serves `champion` with `challenger` in shadow (its model watch)."""

    def serving() -> bool:
        info = api.get("/v1/model").json()
        return (info["champion"] or {}).get("model_version") == champion and (
            info["challenger"] or {}
        ).get("model_version") == challenger

    wait_until(serving, f"{champion} with {challenger} in shadow")


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
    reported = label(api, history)

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
        *("--data", "export.parquet", "--out", str(retrained), "--trees", "30", "--budget-s", "5"),
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

    # Load it as the challenger: a symlink where the API looks for one; its watch loads it.
    champion, challenger = Manifest.read(in_service).model_version, new.model_version
    os.symlink(retrained, tmp_path / "models" / "challenger")
    wait_for_models(api, champion, challenger)

    # The days after the history, in two parts: the first shadowed by the challenger and
    # labelled, the second sent while `fraud promote` swaps the two.
    following = generate(NEXT)
    following["transaction_id"] = "next_" + following["transaction_id"]
    half = len(following) // 2
    shadowed, promoted = following.iloc[:half], following.iloc[half:]
    write_transactions(shadowed.drop(columns=["is_fraud", "scenario"]), tmp_path / "next1.csv")
    write_transactions(promoted.drop(columns=["is_fraud", "scenario"]), tmp_path / "next2.csv")
    sent = asyncio.run(
        replay(tmp_path / "next1.csv", base, 2_000, KEY, concurrency=32, timeout_s=None)
    )
    assert sent["statuses"] == {200: len(shadowed)}, sent["errors"]
    schema = env["FRAUD_DATABASE_SCHEMA"]
    wait_until_stored(schema, len(history) + len(shadowed))
    stored = query(
        schema,
        "SELECT model_version, challenger_model_version, count(*), "
        "count(*) FILTER (WHERE challenger_score BETWEEN 0 AND 1) "
        "FROM decisions WHERE transaction_id LIKE 'next_%' GROUP BY 1, 2",
    )
    assert [tuple(r) for r in stored] == [(champion, challenger, len(shadowed), len(shadowed))]

    # Their chargebacks come in; the report sets the two side by side on them.
    label(api, shadowed)
    times = pd.to_datetime(shadowed["timestamp"], utc=True)
    first, last = times.min(), times.max()
    fraud(
        "report",
        *("--since", str(first.date()), "--until", str(last.date() + timedelta(days=1))),
        *("--out", "report", "--compare"),
        env=env,
        cwd=tmp_path,
    )
    compared = orjson.loads((tmp_path / "report" / "report.json").read_bytes())["compare"]
    [pair] = compared["pairs"]
    assert (pair["champion_model_version"], pair["challenger_model_version"]) == (
        champion,
        challenger,
    )
    assert pair["decisions"] == compared["decisions"] == len(shadowed)
    frauds_shadowed = int(shadowed["is_fraud"].sum())
    assert frauds_shadowed > 0  # (17 with this seed)
    assert pair["champion"]["period"]["fraud"] == frauds_shadowed
    assert pair["challenger"]["period"]["fraud"] == frauds_shadowed
    assert pair["verdict"]["fraud"] == frauds_shadowed
    for side in ("champion", "challenger"):
        assert 0 < pair[side]["period"]["average_precision"] <= 1
    assert "Champion and challenger" in (tmp_path / "report" / "report.md").read_text()

    # Promote while traffic flows: answers keep coming before, during and after the swap.
    flowing = Traffic(base, list(request_bodies(read_transactions(tmp_path / "next2.csv"))))
    flowing.start()
    try:
        wait_until(lambda: len(flowing.answers) >= 40, "the traffic to flow")
        fraud("promote", env=env, cwd=tmp_path)
        wait_for_models(api, challenger, champion)
        flowing.swapped.set()
    finally:
        flowing.join()
    assert [status for status, _ in flowing.answers] == [200] * len(promoted)
    served = [version for _, version in flowing.answers]
    assert served[0] == champion
    assert served[-1] == challenger
    # One switch, at a point in the flow: every answer after it is the new champion's.
    switch = served.index(challenger)
    assert set(served[switch:]) == {challenger}
    wait_until_stored(schema, len(history) + len(following))
    # Each stored decision names the model that made it and the one that shadowed it.
    pairs = query(
        schema,
        "SELECT model_version, challenger_model_version FROM decisions "
        "WHERE transaction_id LIKE 'next_%' GROUP BY 1, 2",
    )
    assert {tuple(r) for r in pairs} == {(champion, challenger), (challenger, champion)}
