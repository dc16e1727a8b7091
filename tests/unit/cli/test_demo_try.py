"""The scoring call the demo prints (`try:`) sends a new transaction each time it is run:
the example as it is once got 409, its one id already sent with other fields."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from cli.demo import EXAMPLE, try_command

BASE = "http://127.0.0.1:8123"
KEY = "fk_demo"


def body(command: str) -> dict[str, object]:
    """What the printed command would POST, from a shell as the user runs it."""
    request = command.split(" | curl ", 1)[0]
    out = subprocess.run(["bash", "-c", request], capture_output=True, check=True)
    sent: dict[str, object] = orjson.loads(out.stdout)
    return sent


def test_each_run_sends_the_example_with_a_new_id_at_the_current_time() -> None:
    command = try_command(BASE, KEY)
    first, second = body(command), body(command)
    example = orjson.loads(EXAMPLE.read_bytes())
    assert first["transaction_id"] != second["transaction_id"]
    assert first["transaction_id"] != example["transaction_id"]
    for sent in (first, second):
        moment = datetime.fromisoformat(str(sent["timestamp"]))
        assert abs(datetime.now(UTC) - moment) < timedelta(minutes=1)
        fixed = {k: v for k, v in example.items() if k not in ("transaction_id", "timestamp")}
        assert {k: sent[k] for k in fixed} == fixed
    assert command.endswith(
        f"| curl -s -w '\\n' {BASE}/v1/score -H 'Authorization: Bearer {KEY}'"
        " -H 'Content-Type: application/json' -d @-"
    )


def test_the_example_is_named_from_wherever_the_demo_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(EXAMPLE.parents[1])
    assert " examples/score_request.json | " in try_command(BASE, KEY)
    monkeypatch.chdir(tmp_path)
    assert f" {EXAMPLE} | " in try_command(BASE, KEY)
