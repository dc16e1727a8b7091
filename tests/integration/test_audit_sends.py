"""Audit records reach Kafka in few sends (a send costs the API about as much as five
records' whole audit path): the shipper of the durable log and the in-memory producer let
the records that follow the first join its send, and a send hands the producer one batch
per partition, each record in the partition aiokafka's default partitioner gives its key.
On a tansu broker of the test's own."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.partitioner import DefaultPartitioner

from localservers import TansuBroker
from persistence.audit_log import AuditLog
from persistence.log_segments import Record, SegmentedLog
from persistence.log_shipper import LogShipper
from persistence.log_slots import claim
from persistence.producer import AuditProducer
from persistence.spool import Spool
from persistence.topic_sender import TopicSender

TOPIC = "audit.sends"


class CountedSender(TopicSender):
    """A real sender that also notes what each of its sends held."""

    def __init__(self, bootstrap: str) -> None:
        super().__init__(bootstrap, TOPIC, partitions=12, idempotent=False)  # tansu
        self.sends: list[int] = []

    async def send(self, records: list[Record]) -> bool:
        self.sends.append(len(records))
        return await super().send(records)


def record(i: int) -> Record:
    return f"card_{i}".encode(), f'{{"n":{i}}}'.encode()


async def consumed(bootstrap: str, expected: int, timeout_s: float = 30) -> list[Any]:
    consumer = AIOKafkaConsumer(
        TOPIC, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    messages: list[Any] = []
    try:
        deadline = time.monotonic() + timeout_s
        while len(messages) < expected and time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                messages += batch
    finally:
        await consumer.stop()
    return messages


async def ship_one_by_one(
    bootstrap: str, directory: Path, linger_s: float, count: int
) -> CountedSender:
    """`count` records logged one at a time, each synced before the next, shipped."""
    slot = claim(directory)
    audit_log = AuditLog(SegmentedLog(slot.path))
    sender = CountedSender(bootstrap)
    shipper = LogShipper(audit_log, slot, directory, sender, linger_s=linger_s)
    await shipper.start()
    for i in range(count):
        synced = asyncio.get_running_loop().create_future()
        audit_log.append([record(i)], synced.set_result)
        assert await synced is None
        await asyncio.sleep(0.01)
    deadline = time.monotonic() + 30
    while sum(sender.sends) < count:
        assert time.monotonic() < deadline, sender.sends
        await asyncio.sleep(0.05)
    await shipper.stop(5)
    return sender


def test_records_logged_one_by_one_are_shipped_together(tmp_path: Path) -> None:
    broker = TansuBroker().start()
    try:
        alone = asyncio.run(ship_one_by_one(broker.bootstrap, tmp_path / "alone", 0.0, 5))
        together = asyncio.run(ship_one_by_one(broker.bootstrap, tmp_path / "together", 1.0, 5))
        messages = asyncio.run(consumed(broker.bootstrap, 10))
    finally:
        broker.cleanup()
    assert len(alone.sends) > 1  # without a linger: a send as soon as records are synced
    assert together.sends == [5]
    assert sorted(m.value for m in messages) == sorted([record(i)[1] for i in range(5)] * 2)


def test_events_published_one_by_one_are_sent_together(tmp_path: Path) -> None:
    async def run(bootstrap: str) -> list[int]:
        producer = AuditProducer(
            bootstrap, TOPIC, Spool(tmp_path / "spool"), idempotent=False, send_linger_s=1.0
        )
        sends: list[int] = []
        send = producer.sender.send

        async def counted(records: list[Record]) -> bool:
            sends.append(len(records))
            return await send(records)

        producer.sender.send = counted  # type: ignore[method-assign]
        await producer.start()
        for i in range(5):
            producer.publish(*record(i))
            await asyncio.sleep(0.01)
        deadline = time.monotonic() + 30
        while sum(sends) < 5:
            assert time.monotonic() < deadline, sends
            await asyncio.sleep(0.05)
        producer.publish(*record(5))  # lingering when it stops: sent at once, not lost
        await producer.stop()
        return sends

    broker = TansuBroker().start()
    try:
        sends = asyncio.run(run(broker.bootstrap))
        messages = asyncio.run(consumed(broker.bootstrap, 6))
    finally:
        broker.cleanup()
    assert sends == [5, 1]
    assert sorted(m.value for m in messages) == sorted(record(i)[1] for i in range(6))


def test_each_record_lands_where_the_default_partitioner_puts_its_key() -> None:
    async def run(bootstrap: str) -> list[Any]:
        sender = CountedSender(bootstrap)
        records = [record(i) for i in range(60)] + [record(7), record(7)]  # a key again
        assert await sender.send(records)
        await sender.close()
        return await consumed(bootstrap, len(records))

    broker = TansuBroker().start()
    try:
        messages = asyncio.run(run(broker.bootstrap))
    finally:
        broker.cleanup()
    assert len(messages) == 62
    partitions = sorted({m.partition for m in messages})
    assert len(partitions) > 1
    for m in messages:
        assert m.partition == DefaultPartitioner()(m.key, list(range(12)), list(range(12)))
    sevens = [m.offset for m in messages if m.key == b"card_7"]
    assert sevens == sorted(sevens)  # one key's records in the order sent
