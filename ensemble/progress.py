"""A tiny progress interface so long work can report without knowing about terminals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

Advance = Callable[[int], None]


class Task(Protocol):
    """One bar: called with the steps just done."""

    def __call__(self, n: int) -> None: ...

    def finish(self, note: str) -> None:
        """The work ended before the total it announced (early stopping): the bar ends
        where the work did, with `note` saying why."""


class Progress(Protocol):
    def task(self, description: str, total: int) -> Task: ...


class _Silent:
    def __call__(self, n: int) -> None:
        pass

    def finish(self, note: str) -> None:
        pass


class NoProgress:
    def task(self, description: str, total: int) -> Task:
        return _Silent()
