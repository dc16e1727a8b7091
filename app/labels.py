"""One path for a confirmed label, whoever sends it (POST /v1/feedback, a resolved case):
stored in PostgreSQL, applied to the label windows in Redis before the commit, published to
the labels topic after it."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from app.errors import ServiceUnavailable
from features.redis_store import STORE_ERRORS
from features.store import WindowStore
from features.window_format import label_member
from persistence.history import Feedback, Stored, store_feedback
from persistence.message_format import label_event
from persistence.producer import AuditProducer


async def apply_label(
    conn: asyncpg.Connection,
    store: WindowStore,
    report: Feedback,
    max_sources: int | None = None,
) -> Stored:
    """apply_labels for one report."""
    return (await apply_labels(conn, store, [report], max_sources))[0]


async def apply_labels(
    conn: asyncpg.Connection,
    store: WindowStore,
    reports: Sequence[Feedback],
    max_sources: int | None = None,
) -> list[Stored]:
    """Store each report and apply each transaction's effective label to its label windows
    (so the `*_known_fraud_*` features see it from when it became known), all windows in
    one Redis MULTI. Call inside the caller's transaction: a Redis failure raises
    ServiceUnavailable and rolls it back. UnknownTransaction and ConflictingFeedback come
    from store_feedback, and TooManyLabels for a new source beyond `max_sources`."""
    stored = [await store_feedback(conn, report, max_sources) for report in reports]
    try:
        await store.record_labels(
            [
                (
                    s.entities,
                    label_member(report.scope, report.transaction_id),
                    int(s.effective_at.timestamp() * 1000),
                    s.effective_label == "fraud",
                )
                for report, s in zip(reports, stored, strict=True)
            ]
        )
    except STORE_ERRORS as exc:
        raise ServiceUnavailable(f"feature store unavailable: {exc!r}") from None
    return stored


def publish_label(labels: AuditProducer | None, report: Feedback, stored: Stored) -> None:
    """After the commit: the label on `transactions.labels` (none without Kafka). A retried
    report is published again: downstream is idempotent per transaction and source."""
    if labels is None:
        return
    card = stored.entities["card"]
    labels.publish(
        card.encode(),
        label_event(
            report.scope,
            report.transaction_id,
            stored.label,
            report.source,
            stored.reported_at,
            card,
        ),
    )
