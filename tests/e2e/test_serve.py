"""`fraud serve` as a process, reached by real clients over real sockets: it answers,
streams decisions over a WebSocket, reloads its model on SIGHUP, and stops on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from app.auth import digest
from app.metrics import scraped_total
from app.schemas.score import EXAMPLE
from ensemble.manifest import Manifest
from localservers import TansuBroker, delete_keys, free_port, wait_until_ready
from tests.servers import shared_redis_url
from tests.waiting import wait_until

FRAUD = str(Path(sys.executable).with_name("fraud"))


def live(**changes: Any) -> dict[str, Any]:
    """The documented example at the current time: what a live server takes."""
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return EXAMPLE | {"timestamp": now} | changes


@contextmanager
def serving(
    model: Path,
    *flags: str,
    kafka: str = "",
    env: dict[str, str] | None = None,
    stderr: list[bytes] | None = None,
    event_time: str = "live",
    preexec: Callable[[], None] | None = None,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`fraud serve` on a free port with the machine's (or the suite's own) Redis, under a
    key prefix of its own, `env` added to its environment; SIGTERM and the keys deleted at
    the end, then what it wrote to stderr appended to `stderr` (a file meanwhile: a pipe
    nobody reads would block the server once full). Live event time (the default) unless
    told otherwise; `preexec` runs in the child before `fraud serve` starts (a resource
    limit)."""
    redis_url = shared_redis_url()
    port = free_port()
    environment = (
        os.environ
        | {
            "FRAUD_API_KEYS": digest("k1"),
            "FRAUD_REDIS_URL": redis_url,
            "FRAUD_REDIS_PREFIX": f"serve{port}",
            "FRAUD_ENVIRONMENT": "test",
            "FRAUD_KAFKA_BOOTSTRAP_SERVERS": kafka,
            "FRAUD_AUDIT_IDEMPOTENCE": "false",  # the brokers here are tansu
            "FRAUD_SPOOL_PATH": str(model.parent / f"spool{port}"),
            "FRAUD_EVENT_TIME": event_time,
        }
        | (env or {})
    )
    environment.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [FRAUD, "serve", "--port", str(port), "--model", str(model), *flags],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=log,
            preexec_fn=preexec,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_ready(base, process, 60)
            yield base, process
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()  # never leave it running; the test fails on the timeout
                process.wait(10)
                raise
            finally:
                delete_keys(redis_url, f"serve{port}")
        log.seek(0)
        written = log.read()
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status says why it stopped.
    assert process.returncode in (0, -signal.SIGTERM)
    assert b"Traceback" not in written
    if stderr is not None:
        stderr.append(written)


def test_serve_answers_and_reloads_on_sighup(bundle_dir: Path, tmp_path: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(bundle_dir, model)
    # The model watch off: the bundle rewritten below is put in service by SIGHUP alone.
    with serving(model, env={"FRAUD_MODEL_WATCH_S": "0"}) as (base, process):
        headers = {"Authorization": "Bearer k1", "Content-Type": "application/json"}
        first = httpx.post(f"{base}/v1/score", content=orjson.dumps(live()), headers=headers).json()
        # The live default refuses a time days away from the server's clock.
        old = httpx.post(f"{base}/v1/score", content=orjson.dumps(EXAMPLE), headers=headers)
        assert old.status_code == 422
        assert [d["field"] for d in old.json()["detail"]] == ["timestamp"]
        assert httpx.get(f"{base}/docs").status_code == 200
        assert "/v1/score" in httpx.get(f"{base}/openapi.json").json()["paths"]

        manifest = Manifest.read(model)
        manifest.model_version = "2099-01-01T00:00:00Z-next"
        manifest.write(model)
        process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        n = 0
        while True:
            n += 1
            answer = httpx.post(
                f"{base}/v1/score",
                content=orjson.dumps(live(transaction_id=f"after_{n}")),
                headers=headers,
            ).json()
            assert "model_version" in answer, answer
            if answer["model_version"] == "2099-01-01T00:00:00Z-next":
                break
            assert answer["model_version"] == first["model_version"]  # no request dropped meanwhile
            assert time.monotonic() < deadline, "model not reloaded after SIGHUP"
            time.sleep(0.1)


def workers_with_a_model(supervisor: subprocess.Popen[bytes]) -> int:
    """Workers of this `fraud serve` that have their model in service: each writes its
    fraud_model_ready gauge (livemin: 0 until loaded) to a file of its own in the metrics
    directory they share, and the metric is 1 once every one of them has loaded."""
    workers = psutil.Process(supervisor.pid).children()
    try:
        shared = Path(workers[0].environ()["PROMETHEUS_MULTIPROC_DIR"]) if workers else None
    except (psutil.Error, KeyError):
        return 0  # spawning: its environment is not readable yet
    if shared is None:
        return 0
    written = sum((shared / f"gauge_livemin_{w.pid}.db").exists() for w in workers)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, str(shared))
    return written if registry.get_sample_value("fraud_model_ready") == 1 else 0


def test_metrics_count_every_worker(bundle_dir: Path) -> None:
    """With several workers, each scrape of /metrics (answered by any one of them) counts
    the answers of all of them."""
    headers = {"Authorization": "Bearer k1", "Content-Type": "application/json"}
    with serving(bundle_dir, "--workers", "2") as (base, supervisor):
        wait_until(lambda: workers_with_a_model(supervisor) == 2, "two workers with the model")
        for i in range(40):  # a new connection each: the workers share them out
            body = orjson.dumps(live(transaction_id=f"w_{i}"))
            answer = httpx.post(f"{base}/v1/score", content=body, headers=headers)
            assert answer.status_code == 200, answer.text
        for _ in range(6):
            metrics = httpx.get(f"{base}/metrics").text
            counted = scraped_total(metrics, "fraud_decisions_total")
            assert counted == 40


@pytest.mark.timeout(120)
def test_the_stream_delivers_decisions_over_a_real_websocket(bundle_dir: Path) -> None:
    """A WebSocket client of its own (the `websockets` library) on a real `fraud serve`
    process: the upgrade is accepted (it was answered 404 when uvicorn had no WebSocket
    library), then every decision scored arrives on the stream."""
    broker = TansuBroker().start()
    try:
        with serving(bundle_dir, kafka=broker.bootstrap) as (base, _):
            ws_url = base.replace("http://", "ws://") + "/v1/stream"
            seen = asyncio.run(stream_while_scoring(base, ws_url, [f"ws_{i}" for i in range(20)]))
    finally:
        broker.cleanup()
    assert seen == {f"ws_{i}" for i in range(20)}


async def stream_while_scoring(base: str, ws_url: str, ids: list[str]) -> set[str]:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(ws_url):
            pass
    assert refused.value.response.status_code == 403  # no key: refused before the upgrade

    seen: set[str] = set()
    async with (
        connect(ws_url, additional_headers={"Authorization": "Bearer k1"}) as ws,
        httpx.AsyncClient(base_url=base, headers={"Authorization": "Bearer k1"}) as http,
    ):
        hello = orjson.loads(await asyncio.wait_for(ws.recv(), 30))
        assert hello["type"] == "hello"
        for tx in ids:
            answer = await http.post("/v1/score", json=live(transaction_id=tx))
            assert answer.status_code == 200, answer.text
        async with asyncio.timeout(60):
            while not seen >= set(ids):
                message = orjson.loads(await ws.recv())
                if message["type"] == "decision":
                    seen.add(message["transaction_id"])
    return seen


def test_fraud_replay_sends_a_file_and_prints_its_summary(
    bundle_dir: Path, history_file: Path
) -> None:
    """The traffic generator as a user runs it; its summary counts answers by status code
    (integer keys: printing them once crashed the command after the run)."""
    with serving(bundle_dir, event_time="replay") as (base, _):  # a history, its own times
        command = [FRAUD, "replay", "--data", str(history_file), "--url", base, "--rate", "200"]
        done = subprocess.run(
            [*command, "--limit", "40", "--api-key", "k1"],
            capture_output=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr.decode()
    summary = orjson.loads(done.stdout)
    assert summary["sent"] == 40
    assert summary["statuses"] == {"200": 40}
