"""What the Kafka drills wait for instead of a fixed sleep: the cluster's own account of a
topic's replicas and of a consumer group (its admin API), and the API's of its audit
spool (/metrics). Each is a check that is False while the cluster cannot answer, for
tests.waiting.eventually."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from aiokafka.errors import KafkaError
from prometheus_client.parser import text_string_to_metric_families

AUDIT_EVENTS = "fraud_audit_events_total"  # by topic and outcome (persistence/producer.py)


@asynccontextmanager
async def _admin(bootstrap: str) -> AsyncIterator[AIOKafkaAdminClient]:
    client = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        await client.start()
        yield client
    finally:
        await client.close()


async def in_sync(bootstrap: str, topic: str, node_id: int) -> bool:
    """Every partition of `topic` has a leader, and each one `node_id` replicates has it
    back in its in-sync set (a restarted broker has caught up)."""
    try:
        async with _admin(bootstrap) as admin:
            described = await admin.describe_topics([topic])
    except (KafkaError, OSError):
        return False
    partitions = [
        p for t in described if t["topic"] == topic and not t["error_code"] for p in t["partitions"]
    ]
    return bool(partitions) and all(
        p["leader"] >= 0 and (node_id in p["isr"] or node_id not in p["replicas"])
        for p in partitions
    )


async def group_assigned(bootstrap: str, group: str, members: int) -> bool:
    """The group is stable with `members` members, each assigned partitions of its own."""
    try:
        async with _admin(bootstrap) as admin:
            responses = await admin.describe_consumer_groups([group])
    except (KafkaError, OSError):
        return False
    found: list[dict[str, Any]] = [
        g for r in responses for g in r.to_object()["groups"] if g["group"] == group
    ]
    if len(found) != 1 or found[0]["error_code"] or found[0]["state"] != "Stable":
        return False
    assigned = [
        ConsumerProtocolMemberAssignment.decode(m["member_assignment"]).partitions()
        for m in found[0]["members"]
        if m["member_assignment"]
    ]
    return len(assigned) == members == len(found[0]["members"]) and all(assigned)


def audit_events(exposition: str, topic: str) -> dict[str, float]:
    """The API's audit events for `topic` by outcome (queued, sent, spooled, resent...)."""
    return {
        s.labels["outcome"]: s.value
        for family in text_string_to_metric_families(exposition)
        for s in family.samples
        if s.name == AUDIT_EVENTS and s.labels.get("topic") == topic
    }


async def spool_resent(base: str, topic: str) -> bool:
    """Every event the API spooled for `topic` has been re-sent: its spool is empty."""
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            exposition = (await client.get(f"{base}/metrics")).raise_for_status().text
    except httpx.HTTPError:
        return False
    events = audit_events(exposition, topic)
    return events.get("resent", 0.0) >= events.get("spooled", 0.0)
