"""A progress recorder (ensemble.progress.Progress): the bars a piece of work reported and
how far each went."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Bar:
    description: str
    total: int
    done: int = 0
    note: str | None = None

    def __call__(self, n: int) -> None:
        self.done += n

    def finish(self, note: str) -> None:
        self.note = note


class Bars:
    """The bars reported, in order."""

    def __init__(self) -> None:
        self.made: list[Bar] = []

    def task(self, description: str, total: int) -> Bar:
        self.made.append(Bar(description, total))
        return self.made[-1]

    def unfinished(self) -> list[Bar]:
        """Bars neither full nor finished early: on a terminal, left half full."""
        return [b for b in self.made if b.done != b.total and b.note is None]
