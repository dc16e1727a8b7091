"""A tiny progress interface so long work can report without knowing about terminals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

Advance = Callable[[int], None]


class Progress(Protocol):
    def task(self, description: str, total: int) -> Advance: ...


class NoProgress:
    def task(self, description: str, total: int) -> Advance:
        return lambda _n: None
