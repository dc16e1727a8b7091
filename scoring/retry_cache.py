"""Answers stored for retries: a transaction id sent again (by the same caller, with the
same request) gets its first answer back.

Answers wait here until they are stored: they ride on the next store round trip (its
script stores them before reading), or, when none leaves within the linger, go on
their own. A round trip that fails gives them back for the next one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from features.redis_store import STORE_ERRORS

log = logging.getLogger(__name__)
# Where it is stored and what: RedisWindowStore.stored_answer (the decision key of the
# transaction id in its caller's scope; the request's fingerprint, then the answer as sent).
Answer = tuple[str, bytes]


class RetryCache:
    def __init__(
        self,
        save: Callable[[Sequence[Answer]], Awaitable[None]],
        linger_s: float,
        timeout_s: float,
    ) -> None:
        self._save = save
        self.linger_s = linger_s
        self.timeout_s = timeout_s
        self._unsaved: list[Answer] = []
        self._flush_pending = False

    def __len__(self) -> int:
        return len(self._unsaved)

    def add(self, key: str, value: bytes) -> None:
        self._unsaved.append((key, value))

    def take(self) -> list[Answer]:
        """Every answer waiting, for a store round trip to carry."""
        answers, self._unsaved = self._unsaved, []
        return answers

    def give_back(self, answers: list[Answer]) -> None:
        """The round trip that carried them failed: the next one carries them, first."""
        self._unsaved[:0] = answers

    def flush_due(self) -> bool:
        """True when answers wait and no flush is pending; the caller then runs
        `flush_later` (once: until it has run, this is False)."""
        if self._unsaved and not self._flush_pending:
            self._flush_pending = True
            return True
        return False

    async def flush_later(self) -> None:
        """Store what no round trip has carried within the linger."""
        try:
            await asyncio.sleep(self.linger_s)
        finally:
            self._flush_pending = False
        await self.flush()

    async def flush(self) -> None:
        if not self._unsaved:
            return
        answers = self.take()
        try:
            async with asyncio.timeout(self.timeout_s):
                await self._save(answers)
        except STORE_ERRORS as exc:  # a timeout too (TimeoutError is an OSError)
            log.warning("could not store %d responses for retries: %r", len(answers), exc)
