"""The commands the demo runs write their logs to files of the run's, not to the terminal
(their JSON lines broke into the live line); one that exits stops the demo with the end of
its log."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from cli.demo import Child, DemoRun, _first_exit


def test_a_child_logs_to_its_file_and_its_failure_quotes_the_end(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    log = DemoRun("demo_1_abc").log(tmp_path, "serve")
    assert log == tmp_path / "demo_1_abc.serve.log"
    env = os.environ | {"FRAUD_MODEL_DIR": str(tmp_path / "no-model")}
    child = Child.start("API", log, env, "serve", "--port", "8123")
    assert child.process.wait(timeout=60) == 2
    assert capfd.readouterr() == ("", "")  # nothing on the demo's terminal
    assert "no model bundle" in log.read_text()
    failure = child.failure("the API exited (code 2)")
    first, *tail = failure.splitlines()
    assert first == f"the API exited (code 2); the end of its log, {log}:"
    assert "no model bundle" in " ".join(tail)


def test_the_first_child_to_exit_stops_the_demo(tmp_path: Path) -> None:
    env = os.environ | {"FRAUD_MODEL_DIR": str(tmp_path / "no-model")}
    failing = Child.start("API", tmp_path / "serve.log", env, "serve", "--port", "8123")

    async def watch() -> tuple[Child | None, bool]:
        stopping = asyncio.Event()
        exited = await asyncio.wait_for(_first_exit((failing,), stopping), 60)
        return exited, stopping.is_set()

    assert asyncio.run(watch()) == (failing, True)


def test_a_demo_stopped_otherwise_names_no_child(tmp_path: Path) -> None:
    async def watch() -> Child | None:
        stopping = asyncio.Event()
        stopping.set()
        return await _first_exit((), stopping)

    assert asyncio.run(watch()) is None
