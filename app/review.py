"""Resolving a review case: the verdict as the label of every transaction of the case
(through the same path as POST /v1/feedback), the card optionally blocked, the case
closed; all in one PostgreSQL transaction, the label windows written before its commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from app.errors import ServiceUnavailable
from app.labels import apply_labels, publish_label
from controls.list_store import RedisListStore
from controls.lists import ListEntry
from features.redis_store import STORE_ERRORS
from features.store import WindowStore
from persistence.cases import Verdict, case_transaction_ids, close_case, open_case_for_update
from persistence.history import Feedback
from persistence.lists import ListEntryExists, NewListEntry, add_list_entry
from persistence.producer import AuditProducer


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


def case_source(case_id: int) -> str:
    """The feedback source of a case's labels: one report per transaction and case."""
    return f"case:{case_id}"


async def resolve_case(
    conn: asyncpg.Connection,
    store: WindowStore,
    labels: AuditProducer | None,
    resolution: Resolution,
    lists: RedisListStore,
) -> dict[str, Any]:
    """Close an open case with its verdict; UnknownCase, CaseClosed or InvalidListEntry
    (nothing changed) if it cannot be. ServiceUnavailable (Redis) rolls everything back."""
    async with conn.transaction():
        case = await open_case_for_update(conn, resolution.case_id)
        # The block first: a refused entry changes nothing anywhere, and an entry published
        # by a resolution that then fails is taken out of Redis by the lists' reconciliation
        # (app/list_sync.py); the label windows, which nothing reconciles, are written last.
        entry = None
        if resolution.block is not None:
            entry = await block_card(conn, lists, case["card_id"], resolution)
        source = case_source(resolution.case_id)
        asked = [
            Feedback(scope, transaction_id, resolution.verdict, source, None, resolution.key_id)
            for scope, transaction_id in await case_transaction_ids(conn, resolution.case_id)
        ]
        reports = list(zip(asked, await apply_labels(conn, store, asked), strict=True))
        closed = await close_case(
            conn, resolution.case_id, resolution.verdict, resolution.note, resolution.key_id
        )
    for report, stored in reports:
        publish_label(labels, report, stored)
    return closed | {
        "labelled": len(reports),
        "list_entry": None if entry is None else entry.as_json(),
    }


async def block_card(
    conn: asyncpg.Connection, lists: RedisListStore, card_id: str, resolution: Resolution
) -> ListEntry:
    """The card on the block list, in the resolution's transaction and published to Redis
    before its commit; a card blocked already keeps its entry."""
    assert resolution.block is not None
    new = NewListEntry(
        "card", card_id, "block", resolution.block.reason, resolution.block.expires_at
    )
    try:
        entry = await add_list_entry(conn, new, resolution.key_id)
    except ListEntryExists as exc:
        return exc.existing
    try:
        await lists.publish(entry)
    except STORE_ERRORS as exc:
        raise ServiceUnavailable(f"feature store unavailable: {exc!r}") from None
    return entry
