"""Waiting on a condition, not on a clock: a test polls for what it needs and fails only
after a deadline far beyond a quiet machine's time, so a busy machine slows it, never
fails it."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable

DEADLINE_S = 60.0


def wait_until(
    condition: Callable[[], bool], what: str, timeout_s: float = DEADLINE_S, poll_s: float = 0.05
) -> None:
    """Until `condition()` holds; AssertionError naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"no {what} within {timeout_s:.0f} s"
        time.sleep(poll_s)


async def eventually(
    condition: Callable[[], bool | Awaitable[bool]],
    what: str,
    timeout_s: float = DEADLINE_S,
    poll_s: float = 0.05,
) -> None:
    """`wait_until` inside an event loop: the loop runs on between the polls, and the
    condition may be a coroutine (a question to a server)."""
    deadline = time.monotonic() + timeout_s
    while not await _holds(condition):
        assert time.monotonic() < deadline, f"no {what} within {timeout_s:.0f} s"
        await asyncio.sleep(poll_s)


async def _holds(condition: Callable[[], bool | Awaitable[bool]]) -> bool:
    held = condition()
    return await held if inspect.isawaitable(held) else held
