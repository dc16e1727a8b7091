"""Stand-ins for the scoring core's collaborators, so its parts run without Redis or a
trained model: transactions, a bundle whose scores are chosen by the test, a store kept
in a dict. mypy checks this module (pyproject.toml): the store must be a ScoringStore."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import numpy as np

from ensemble.bundle import BatchScores, Reason
from features.definitions import ENTITIES, LABELLED_ENTITIES
from features.store import ScoringStore
from features.window_format import Event, WindowRead
from scoring.drift import DriftWindow
from scoring.transaction import Transaction

TRANSACTION = Transaction(
    transaction_id="tx_1",
    timestamp=datetime(2026, 11, 28, 11, 0, tzinfo=UTC),
    amount=249.99,
    currency="EUR",
    card_id="card_1",
    account_id=None,
    merchant_id="m_1",
    merchant_category="5732",
    merchant_country="FR",
    channel="ecommerce",
    device_id=None,
    ip_address=None,
    latitude=None,
    longitude=None,
)


def transaction(transaction_id: str = "tx_1", **changes: Any) -> Transaction:
    return replace(TRANSACTION, transaction_id=transaction_id, **changes)


def empty_read(stored_response: bytes | None = None) -> WindowRead:
    """What the store returns for a card, account, ... never seen before."""
    return WindowRead(
        stored_response=stored_response,
        members={e: b"" for e in ENTITIES},
        label_scores={e: [] for e in LABELLED_ENTITIES},
        profiles={e: None for e in LABELLED_ENTITIES},
    )


class Bundle:
    """Row j of a scored matrix gets score j / 10 + `offset` and tier `tiers[j]` (default
    "low"); every call is recorded."""

    ready = True

    def __init__(
        self, tiers: Sequence[str] = (), version: str = "test-model", offset: float = 0.0
    ) -> None:
        self.tiers = list(tiers)
        self.version = version
        self.offset = offset
        self.matrices: list[np.ndarray] = []
        self.explained: list[int] = []

    def score(self, matrix: np.ndarray) -> BatchScores:
        self.matrices.append(matrix)
        n = len(matrix)
        tiers = (self.tiers + ["low"] * n)[:n]
        return BatchScores(
            score=np.arange(n) / 10 + self.offset,
            xgboost=np.full(n, 0.5),
            isolation_forest=np.full(n, 0.25),
            risk_tier=np.array(tiers),
        )

    def reasons_many(self, rows: np.ndarray, top: int = 3) -> list[list[Reason]]:
        self.explained.append(len(rows))
        return [[Reason("amount", float(row[0]), 0.5)][:top] for row in rows]


class Models:
    def __init__(
        self,
        bundle: Bundle | None,
        drift: DriftWindow | None = None,
        challenger: Bundle | None = None,
    ) -> None:
        self.bundle = bundle
        self.drift = drift
        self.challenger = challenger

    @property
    def ready(self) -> bool:
        return self.bundle is not None


class Store:
    """The window store's two calls on a dict of stored answers. `fail`: raised by every
    round trip while set; `delay`: how long each one takes."""

    def __init__(self) -> None:
        self.stored: dict[str, bytes] = {}
        self.trips: list[tuple[list[str], list[str]]] = []  # (events, answers carried)
        self.fail: BaseException | None = None
        self.delay = 0.0

    async def read_and_record(
        self, events: Sequence[Event], responses: Sequence[tuple[str, bytes]] = ()
    ) -> list[WindowRead]:
        self.trips.append(([e.transaction_id for e in events], [t for t, _ in responses]))
        await asyncio.sleep(self.delay)  # a round trip always yields, however short
        if self.fail is not None:
            raise self.fail
        for key, body in responses:
            self.stored.setdefault(key, body)  # the first answer wins
        return [empty_read(self.stored.get(_key(e))) for e in events]

    def stored_answer(self, event: Event, body: bytes) -> tuple[str, bytes]:
        return _key(event), body

    async def save_responses(self, responses: Sequence[tuple[str, bytes]]) -> None:
        await self.read_and_record((), responses)


def as_scoring_store(store: Store) -> ScoringStore:
    """The fake where the service takes a store: mypy checks it has the protocol's calls."""
    return store


def _key(event: Event) -> str:
    """A transaction id in its scope (the id alone in the empty scope)."""
    return f"{event.scope}:{event.transaction_id}" if event.scope else event.transaction_id
