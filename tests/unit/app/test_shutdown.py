"""A shutdown step that hangs is abandoned after its bound, logged by name, and the next
step still runs (a `fraud serve` once stayed up after SIGTERM, its shutdown waiting)."""

from __future__ import annotations

import asyncio

import pytest

from app.lifespan import stop_step


async def hang() -> None:
    await asyncio.Event().wait()


def test_a_hanging_step_is_left_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    done: list[str] = []

    async def finish() -> None:
        done.append("next")

    async def shutdown() -> None:
        await stop_step("stuck client", hang, 0.05)
        await stop_step("next client", finish, 0.05)

    asyncio.run(shutdown())
    assert done == ["next"]
    assert "the stuck client did not stop within 0.05 s" in caplog.text
