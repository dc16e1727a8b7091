"""Resolving a review case: the verdict as the label of every transaction of the case
(through the same path as POST /v1/feedback), the card optionally blocked, the case
closed; all in one PostgreSQL transaction, the label windows written before its commit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from app.labels import apply_labels, publish_label
from features.redis_store import RedisWindowStore
from persistence.cases import Verdict, case_transaction_ids, close_case, open_case_for_update
from persistence.history import Feedback
from persistence.producer import AuditProducer


@dataclass(frozen=True, slots=True)
class ListEntry:
    """A block list entry a resolution asks for (the lists' POST /v1/lists body, from a case)."""

    entity: str  # "card"
    value: str  # the card_id
    action: str  # "block"
    reason: str
    expires_at: datetime | None
    key_id: str  # who resolved the case


# Writes a list entry inside the caller's PostgreSQL transaction (and, before its commit, the
# lists' Redis copy; a failure raises and rolls the resolution back); returns the entry as
# the lists API shows it. Wired in app.state.list_writer; None: lists are not available.
ListWriter = Callable[[asyncpg.Connection, ListEntry], Awaitable[Mapping[str, Any]]]


@dataclass(frozen=True, slots=True)
class CardBlock:
    reason: str
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Resolution:
    case_id: int
    verdict: Verdict
    note: str | None
    key_id: str
    block: CardBlock | None = None  # also block the case's card


class ListsUnavailable(RuntimeError):
    """A resolution asked to block the card, and this process has no list writer."""


def case_source(case_id: int) -> str:
    """The feedback source of a case's labels: one report per transaction and case."""
    return f"case:{case_id}"


async def resolve_case(
    conn: asyncpg.Connection,
    store: RedisWindowStore,
    labels: AuditProducer | None,
    resolution: Resolution,
    list_writer: ListWriter | None,
) -> dict[str, Any]:
    """Close an open case with its verdict; UnknownCase, CaseClosed or ListsUnavailable
    (nothing changed) if it cannot be. ServiceUnavailable (Redis) rolls everything back."""
    async with conn.transaction():
        case = await open_case_for_update(conn, resolution.case_id)
        if resolution.block is not None and list_writer is None:
            raise ListsUnavailable("lists are not available in this process")
        source = case_source(resolution.case_id)
        asked = [
            Feedback(transaction_id, resolution.verdict, source, None, resolution.key_id)
            for transaction_id in await case_transaction_ids(conn, resolution.case_id)
        ]
        reports = list(zip(asked, await apply_labels(conn, store, asked), strict=True))
        entry = None
        if resolution.block is not None and list_writer is not None:
            block = ListEntry(
                "card",
                case["card_id"],
                "block",
                resolution.block.reason,
                resolution.block.expires_at,
                resolution.key_id,
            )
            entry = dict(await list_writer(conn, block))  # the lists step (persistence/lists.py)
        closed = await close_case(
            conn, resolution.case_id, resolution.verdict, resolution.note, resolution.key_id
        )
    for report, stored in reports:
        publish_label(labels, report, stored)
    return closed | {"labelled": len(reports), "list_entry": entry}
