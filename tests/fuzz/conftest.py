"""The fuzz suite's counts, printed at the end of every run (pass or fail), so CI's log
says how many cases each fuzzer tried and what it found."""

from __future__ import annotations

from typing import Any

import pytest

COUNTS: list[str] = []


def record(line: str) -> None:
    COUNTS.append(line)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if COUNTS:
        terminalreporter.section("fuzz suite")
        for line in COUNTS:
            terminalreporter.write_line(line)


@pytest.fixture
def fuzz_record() -> Any:
    return record
