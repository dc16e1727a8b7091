"""The decisions an API process computes, on their way to the audit topic, in the
durability FRAUD_AUDIT_DURABILITY chooses:

- `log`: each computed batch is appended to this process's audit log and synced (group
  commit) before its answers leave; the shipper sends the log to Kafka
  (persistence/audit_log.py, log_shipper.py, log_slots.py);
- `memory`: each event is queued in memory for the producer (persistence/producer.py),
  spooled to disk when Kafka is away; what is queued when the process is killed is lost.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from app.schemas.score import request_json
from app.settings import Settings
from persistence.audit_log import AuditLog
from persistence.log_segments import Record, SegmentedLog
from persistence.log_shipper import LogShipper
from persistence.log_slots import claim
from persistence.message_format import challenger_json, encoded_audit_event, scored_at_text
from persistence.producer import AUDIT_EVENTS, AuditProducer
from persistence.spool import Spool
from persistence.topic_sender import TopicSender
from scoring.decision import Decision
from scoring.service import Recorded
from scoring.transaction import Transaction

Decided = list[tuple[Transaction, Decision, str]]  # transaction, decision, scope


def records(decided: Decided) -> list[Record]:
    """The audit events of a computed batch, keyed by card (message_format.py): each
    assembled from its request encoded once, its answer's bytes as sent and, with a
    challenger in shadow, the challenger's result."""
    scored_at = scored_at_text(datetime.now(UTC))
    return [
        (
            t.card_id.encode(),
            encoded_audit_event(request_json(t), d.json, scored_at, scope, _shadow(d)),
        )
        for t, d, scope in decided
    ]


def _shadow(decision: Decision) -> bytes | None:
    c = decision.challenger
    if c is None:
        return None
    return challenger_json(c.decision, c.model_version, c.risk_tier, c.score)


def topic_sender(settings: Settings, topic: str) -> TopicSender:
    return TopicSender(
        settings.kafka_bootstrap_servers,
        topic,
        partitions=settings.audit_partitions,
        replication_factor=settings.audit_replication_factor,
        min_insync_replicas=settings.audit_min_insync_replicas,
        idempotent=settings.audit_idempotence,
        linger_ms=settings.audit_linger_ms,
        batch_bytes=settings.audit_batch_bytes,
    )


def audit_producer(settings: Settings, topic: str, spool: Path) -> AuditProducer | None:
    """A producer for one topic with its own spool file; None when Kafka is not configured."""
    if not settings.kafka_bootstrap_servers:
        return None
    return AuditProducer(
        settings.kafka_bootstrap_servers,
        topic,
        Spool(spool, settings.spool_fsync_ms / 1000),
        partitions=settings.audit_partitions,
        replication_factor=settings.audit_replication_factor,
        min_insync_replicas=settings.audit_min_insync_replicas,
        idempotent=settings.audit_idempotence,
        queue_size=settings.audit_queue_size,
        linger_ms=settings.audit_linger_ms,
        batch_bytes=settings.audit_batch_bytes,
        retry_s=settings.audit_retry_s,
        send_linger_s=settings.audit_send_linger_ms / 1000,
    )


class DecisionAudit:
    """`record` is the scoring service's audit (scoring.service.Audit)."""

    def __init__(self, settings: Settings) -> None:
        self.topic = settings.audit_topic
        self.producer: AuditProducer | None = None
        self.shipper: LogShipper | None = None
        if settings.durable_audit:
            slot = claim(settings.audit_log_dir)
            files = SegmentedLog(slot.path, settings.audit_log_segment_bytes)
            self.log = AuditLog(files)
            self.shipper = LogShipper(
                self.log,
                slot,
                settings.audit_log_dir,
                topic_sender(settings, settings.audit_topic),
                retry_s=settings.audit_retry_s,
                linger_s=settings.audit_send_linger_ms / 1000,
            )
        else:
            self.producer = audit_producer(settings, settings.audit_topic, settings.spool_path)

    async def start(self) -> None:
        if self.shipper is not None:
            await self.shipper.start()
        if self.producer is not None:
            await self.producer.start()

    def record(self, decided: Decided, recorded: Recorded) -> None:
        """`recorded` is called at once when the events are queued in memory; with the log,
        once they are synced (or with the error that kept them off the disk)."""
        events = records(decided)
        if self.shipper is not None:
            AUDIT_EVENTS.labels(self.topic, "logged").inc(len(events))
            self.log.append(events, recorded)
            return
        if self.producer is not None:
            for key, value in events:
                self.producer.publish(key, value)
        recorded(None)

    async def stop(self, timeout_s: float) -> None:
        """After the scoring service: what it answered is sent (or kept for the next start)."""
        if self.shipper is not None:
            await self.shipper.stop(timeout_s)
        if self.producer is not None:
            await self.producer.stop()
