"""`fraud demo` end to end: trains, serves, replays traffic, prints where to look, stores
every decision, starts clean each run and stops what it started, in order, on Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import orjson
import pytest
import redis
from websockets.asyncio.client import connect

from tests.pg import DATABASE_URL
from tests.servers import shared_redis_url

FRAUD = str(Path(sys.executable).with_name("fraud"))
DEMO = ["demo", "--days", "20", "--cards", "600", "--rate", "20", "--port", "0"]


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The suite's Redis and PostgreSQL; no Kafka configured, so the demo starts tansu.
    One model and data folder for the module: the first run trains, the next reuse it."""
    root = tmp_path_factory.mktemp("demo")
    return os.environ | {
        "FRAUD_MODEL_DIR": str(root / "model"),
        "FRAUD_DATA_DIR": str(root / "data"),
        "FRAUD_REDIS_URL": shared_redis_url(),
        "FRAUD_REDIS_PREFIX": f"demo-test-{uuid.uuid4().hex[:8]}",
        "FRAUD_DATABASE_URL": DATABASE_URL,
        "FRAUD_KAFKA_BOOTSTRAP_SERVERS": "",
    }


def demo_schemas() -> set[str]:
    async def names() -> set[str]:
        conn = await asyncpg.connect(DATABASE_URL)
        try:
            rows = await conn.fetch(
                "SELECT schema_name FROM information_schema.schemata"
                " WHERE schema_name LIKE 'demo\\_%'"
            )
            return {r[0] for r in rows}
        finally:
            await conn.close()

    return asyncio.run(names())


def demo_keys(env: dict[str, str]) -> int:
    with redis.Redis.from_url(env["FRAUD_REDIS_URL"]) as client:
        return sum(1 for _ in client.scan_iter(match=f"{env['FRAUD_REDIS_PREFIX']}-*"))


def check_clean_exit(text: str, answered: int, env: dict[str, str], before: set[str]) -> None:
    assert "Traceback" not in text, text[-3000:]
    assert "Error" not in text, text[-3000:]
    assert (
        f"decisions answered: {answered:,}; rows stored in PostgreSQL: {answered:,} (all stored)"
        in text
    )
    assert demo_schemas() == before  # this run's schema is gone
    assert demo_keys(env) == 0  # and its Redis keys


@pytest.mark.timeout(400)
def test_demo_trains_serves_replays_and_stores_every_decision_twice_over(
    demo_env: dict[str, str],
) -> None:
    before = demo_schemas()
    for run in range(2):  # a second run starts clean: it stores its own 60, not 0
        out = subprocess.run(
            [FRAUD, *DEMO, "--duration", "3"],
            env=demo_env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert out.returncode == 0, out.stderr[-3000:]
        text = out.stderr
        assert "/docs" in text
        assert "/metrics" in text
        assert "API key:  fk_" in text
        assert "'statuses': {200: 60}" in text
        assert "'degraded': 0" in text
        assert "kafka: started the tansu broker" in text
        assert "req/s" in text  # the live line
        check_clean_exit(text, 60, demo_env, before)
        assert ("trained in" in text) == (run == 0)
    assert (Path(demo_env["FRAUD_MODEL_DIR"]) / "report.md").exists()


async def first_decision(url: str) -> dict[str, object]:
    """The stream the demo prints, read with a real WebSocket client."""
    async with connect(url) as ws, asyncio.timeout(30):
        while True:
            message: dict[str, object] = orjson.loads(await ws.recv())
            if message["type"] == "decision":
                return message


@pytest.mark.timeout(300)
def test_ctrl_c_stops_everything_in_order_and_loses_no_decision(
    demo_env: dict[str, str],
) -> None:
    """While traffic flows, the live stream the demo prints delivers decisions to a
    WebSocket client; then SIGINT to the demo's process group, as a terminal's Ctrl-C
    sends it: the parts it started are in sessions of their own, so only the demo hears
    it and stops them in order (traffic, API, consumer, broker, databases), without a
    traceback."""
    before = demo_schemas()
    demo = subprocess.Popen(
        [FRAUD, *DEMO],
        env=demo_env | {"COLUMNS": "200"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert demo.stderr is not None
        deadline = time.monotonic() + 240
        lines: list[str] = []
        while time.monotonic() < deadline:
            line = demo.stderr.readline()
            if not line:
                break  # the demo ended before traffic flowed: the asserts below say why
            lines.append(line)
            flowing = re.search(r"answered ([\d,]+)", line)
            if flowing and int(flowing.group(1).replace(",", "")) > 0:
                break  # traffic is flowing
        stream = re.search(r"live:\s+(ws://\S+)", "".join(lines))
        assert stream, "".join(lines)
        message = asyncio.run(first_decision(stream.group(1)))
        assert message["type"] == "decision"
        os.killpg(demo.pid, signal.SIGINT)
        rest = demo.communicate(timeout=120)[1]
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
    text = "".join(lines) + rest
    assert demo.returncode == 0, text[-3000:]
    answered = int(text.rsplit("decisions answered: ", 1)[1].split(";")[0].replace(",", ""))
    assert answered > 0
    check_clean_exit(text, answered, demo_env, before)
