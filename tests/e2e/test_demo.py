"""`fraud demo` end to end: trains, serves, scores the weeks before its traffic and posts
their chargebacks, replays traffic, prints where to look, stores every decision, starts
clean each run and stops what it started, in order, on Ctrl-C. On a terminal: the
training's bars gone before the run, one live line that fits, no log line. While it runs,
the `fraud report` it prints writes mature weeks with fraud and the business view."""

from __future__ import annotations

import asyncio
import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
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


def check_clean_exit(text: str, last_line: str, env: dict[str, str], before: set[str]) -> None:
    assert "Traceback" not in text, text[-3000:]
    assert "Error" not in text, text[-3000:]
    assert last_line in text, text[-3000:]
    assert demo_schemas() == before  # this run's schema is gone
    assert demo_keys(env) == 0  # and its Redis keys
    for log in re.findall(r"logs:\s+(\S+) \(the API\), (\S+) \(the consumer\)", text)[0]:
        assert Path(log).is_file()  # kept


def stop_demo(demo: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    """A demo a failed test leaves running is stopped as Ctrl-C stops it, then killed: its
    API, consumer and broker run in sessions of their own, which a kill would orphan."""
    if demo.poll() is None:
        demo.send_signal(signal.SIGINT)
        try:
            demo.communicate(timeout=60)  # its pipes read, so its last lines cannot block it
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.communicate()


def all_stored(answered: int) -> str:
    return f"decisions answered: {answered:,}; rows stored in PostgreSQL: {answered:,} (all stored)"


ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def on_terminal(args: list[str], env: dict[str, str], columns: int, timeout_s: float) -> str:
    """Run `args` on a terminal `columns` wide (a pseudo-terminal) and return what it
    wrote there, without the escape sequences; each redraw of a line is a line of its own."""
    main, side = pty.openpty()
    fcntl.ioctl(side, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    process = subprocess.Popen(
        args,
        env=env | {"COLUMNS": str(columns), "TERM": "xterm-256color"},
        stdin=side,
        stdout=side,
        stderr=side,
    )
    os.close(side)
    out = bytearray()
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            if select.select([main], [], [], 1.0)[0]:
                try:
                    data = os.read(main, 65536)
                except OSError:  # EIO: every writer has closed the terminal
                    break
                if not data:
                    break
                out += data
        assert process.wait(timeout=30) == 0, out.decode(errors="replace")[-3000:]
    finally:
        stop_demo(process)
        os.close(main)
    return ANSI.sub("", out.decode(errors="replace")).replace("\r\n", "\n").replace("\r", "\n")


@pytest.mark.timeout(400)
def test_demo_trains_serves_replays_and_stores_every_decision_twice_over(
    demo_env: dict[str, str],
) -> None:
    """The first run trains, on an 80-column terminal; the second writes to pipes."""
    before = demo_schemas()
    for run in range(2):  # a second run starts clean: it stores its own 60, not 0
        if run == 0:
            text = on_terminal([FRAUD, *DEMO, "--duration", "3"], demo_env, 80, 300)
            check_terminal(text, 80)
        else:
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
        check_clean_exit(text, all_stored(60), demo_env, before)
        assert ("trained in" in text) == (run == 0)
    assert (Path(demo_env["FRAUD_MODEL_DIR"]) / "report.md").exists()


def check_terminal(text: str, columns: int) -> None:
    """The training's bars are gone once it ends (they stayed pinned above the live line,
    one frozen half full); the API's and the consumer's log lines are not on the terminal;
    each drawing of the live line fits in one terminal line with the counts answered and
    stored (80 columns cut it before them), answered read from the API's /metrics."""
    assert "training XGBoost" in text
    after_training = text[text.index("backfilling") :]
    assert "\u2501" not in after_training  # a bar's line
    assert '"level"' not in text  # a JSON log line
    live = [line.rstrip() for line in text.splitlines() if "req/s" in line]
    assert live, text[-3000:]
    for line in live:
        assert len(line) <= columns, line
        assert re.search(r"answered [\d,]+  stored [\d,?]+$", line), line


async def first_decision(url: str) -> dict[str, object]:
    """The stream the demo prints, read with a real WebSocket client."""
    async with connect(url) as ws, asyncio.timeout(30):
        while True:
            message: dict[str, object] = orjson.loads(await ws.recv())
            if message["type"] == "decision":
                return message


@pytest.mark.timeout(300)
def test_ctrl_c_stops_everything_in_order_and_loses_no_decision(
    demo_env: dict[str, str], tmp_path: Path
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
        by_hand = [try_once("".join(lines)) for _ in range(2)]
        assert by_hand[0]["transaction_id"] != by_hand[1]["transaction_id"]
        check_report("".join(lines), demo_env, tmp_path / "report")
        os.killpg(demo.pid, signal.SIGINT)
        rest = demo.communicate(timeout=120)[1]
    finally:
        stop_demo(demo)
    text = "".join(lines) + rest
    assert demo.returncode == 0, text[-3000:]
    answered = int(text.rsplit("decisions answered: ", 1)[1].split(" ")[0].replace(",", ""))
    assert answered > 2
    # The API's own count: the two calls by hand are answered and stored too.
    check_clean_exit(
        text,
        f"decisions answered: {answered:,} (the demo's traffic got {answered - 2:,}); rows"
        f" stored in PostgreSQL: {answered:,} (all stored)",
        demo_env,
        before,
    )


def try_once(printed: str) -> dict[str, object]:
    """The scoring call the demo printed (`try:`), run in a shell as the user would: a
    decision each time (the example as it was got 409 once its id had been sent with other
    fields)."""
    command = re.search(r"try:\s+(.+)", printed)
    assert command, printed
    out = subprocess.run(
        ["bash", "-c", command.group(1)], capture_output=True, timeout=30, check=True
    )
    answer: dict[str, object] = orjson.loads(out.stdout)
    assert answer["decision"] in ("approve", "review", "decline"), answer
    return answer


def check_report(printed: str, env: dict[str, str], out: Path) -> None:
    """The `fraud report` the demo printed, run in a shell as the user would (into `out`):
    the weeks before the traffic, scored through the API, with the chargebacks reported by
    now, give mature weeks with fraud, headline figures and the business view."""
    past = re.search(r"past:\s+([\d,]+) transactions .* ([\d,]+) charged back since", printed)
    assert past, printed
    assert int(past.group(2).replace(",", "")) > 0
    command = re.search(r"report:\s+(.+?)\s+\(the past", printed)
    assert command, printed
    result = subprocess.run(
        ["bash", "-c", f"{command.group(1)} --out {out}"],
        env=env | {"COLUMNS": "80"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = orjson.loads(result.stdout)
    weeks = report["weeks"]
    mature = [w for w in weeks if w["mature"]]
    assert len(mature) >= 3, weeks  # four weeks before the traffic: the last is immature
    assert not weeks[-1]["mature"]
    assert all(w["fraud"] > 0 for w in mature), mature
    period = report["period"]
    assert period["recall"] is not None
    assert period["precision"] is not None
    assert period["review_cost"] > 0
    money = period["money"]
    assert sum(m["fraud_amount"] for m in money) > 0
    assert sum(m["fraud_declined"] + m["fraud_review"] for m in money) > 0
    markdown = (out / "report.md").read_text()
    assert "## Business view" in markdown
    assert "immature" in markdown
    assert (out / "quality.png").is_file()
    assert any(out.glob("business_*.png"))
