"""`fraud serve --local` as a process: with no store answering at the configured
addresses it starts its own Redis and PostgreSQL, makes a key, scores a live request, and
stops those servers when it is stopped; without a model it says how to get one."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

import httpx
import orjson

from localservers import free_port, wait_until_ready
from tests.e2e.test_serve import live

FRAUD = str(Path(sys.executable).with_name("fraud"))


def _nobody_at(scheme: str) -> str:
    """A loopback address where nothing listens: the configured store does not answer."""
    return f"{scheme}127.0.0.1:{free_port()}"


def _written(log: IO[bytes]) -> str:
    log.seek(0)
    return log.read().decode()


def _wait_for_line(log: IO[bytes], process: subprocess.Popen[bytes], prefix: str) -> str:
    deadline = time.monotonic() + 120  # two servers to start, PostgreSQL's initdb among them
    while not re.search(f"^{prefix}", _written(log), re.M):
        assert process.poll() is None, _written(log)
        assert time.monotonic() < deadline, _written(log)
        time.sleep(0.1)
    return _written(log)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_serve_local_starts_the_stores_scores_and_stops_them(bundle_dir: Path) -> None:
    port = free_port()
    env = os.environ | {
        "FRAUD_REDIS_URL": _nobody_at("redis://") + "/0",
        "FRAUD_DATABASE_URL": _nobody_at("postgresql://postgres@") + "/postgres",
        "FRAUD_API_KEYS": "",
        "FRAUD_READ_API_KEYS": "",
        "FRAUD_REVIEW_API_KEYS": "",
        "FRAUD_ADMIN_API_KEYS": "",
        "FRAUD_KAFKA_BOOTSTRAP_SERVERS": "",
        "FRAUD_ENVIRONMENT": "test",
        "FRAUD_SPOOL_PATH": str(bundle_dir.parent / f"spool{port}"),
    }
    env.pop("FRAUD_EVENT_TIME", None)  # live, the default
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [FRAUD, "serve", "--local", "--port", str(port), "--model", str(bundle_dir)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            written = _wait_for_line(log, process, "API: ")
            pids = [int(p) for p in re.findall(r"started a local server \(pid (\d+)\)", written)]
            assert len(pids) == 2, written  # Redis and PostgreSQL
            key_line = re.search(r"^API key:\s+(\S+)", written, re.M)
            assert key_line, written
            base = f"http://127.0.0.1:{port}"
            assert f"API:      {base}" in written
            wait_until_ready(base, process, 60)

            answer = httpx.post(
                f"{base}/v1/score",
                content=orjson.dumps(live(transaction_id=f"local_{port}")),
                headers={
                    "Authorization": f"Bearer {key_line.group(1)}",
                    "Content-Type": "application/json",
                },
            )
            assert answer.status_code == 200, answer.text
            assert set(answer.json()) >= {"decision_source", "rules", "list", "reasons"}
            assert answer.json()["transaction_id"] == f"local_{port}"
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(60)
        written = _written(log)
    assert process.returncode == 0, written
    assert "Traceback" not in written
    assert "stopped, with the servers started here" in written
    assert all(_gone(pid) for pid in pids), written


def test_serve_local_without_a_model_says_how_to_get_one(tmp_path: Path) -> None:
    result = subprocess.run(
        [FRAUD, "serve", "--local", "--model", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    message = " ".join(result.stderr.split())
    assert f"no model bundle at {tmp_path / 'none'}" in message
    assert "`make demo` trains one there" in message
    assert "fraud train --data" in message
