"""TopicSender: records to one Kafka topic, each batch acknowledged whole or reported failed.

It creates the topic (with its partitions, replication and min.insync.replicas) at its
first connection, then sends with acks="all", idempotent where the broker supports it, so
aiokafka's own retries never write twice. `send` answers True only once Kafka has taken
every record of the batch; on False some may have been taken all the same, which is why
everything downstream is idempotent. Both audit paths use it: the in-memory producer
(persistence/producer.py) and the shipper of the durable log (persistence/log_shipper.py).
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from functools import lru_cache
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from aiokafka.partitioner import murmur2
from aiokafka.producer.message_accumulator import BatchBuilder

log = logging.getLogger(__name__)
Record = tuple[bytes, bytes]  # key, value


@lru_cache(maxsize=1 << 16)
def _key_hash(key: bytes) -> int:
    return murmur2(key) & 0x7FFFFFFF  # pure Python: once per key while it is recent


def partition_index(key: bytes, partitions: int) -> int:
    """Where aiokafka's default partitioner puts `key` among `partitions` (its murmur2, as
    Kafka's Java client)."""
    return _key_hash(key) % partitions


class TopicSender:
    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        partitions: int = 12,
        replication_factor: int = 1,
        min_insync_replicas: int = 1,
        idempotent: bool = True,
        linger_ms: int = 5,
        batch_bytes: int = 262_144,
        send_timeout_s: float = 5.0,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self.partitions = partitions
        self.replication_factor = replication_factor
        self.min_insync_replicas = min_insync_replicas
        self.send_timeout_s = send_timeout_s
        self.max_batch = 500
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers,
            acks="all",
            enable_idempotence=idempotent,
            linger_ms=linger_ms,
            max_batch_size=batch_bytes,
        )
        self._started = False

    async def connect(self) -> bool:
        if self._started:
            return True
        try:
            await asyncio.wait_for(self._create_topic(), self.send_timeout_s)
            await asyncio.wait_for(self._producer.start(), self.send_timeout_s)
        except (KafkaError, OSError, TimeoutError) as exc:
            log.warning("Kafka at %s unavailable: %r", self.bootstrap_servers, exc)
            return False
        self._started = True
        return True

    async def _create_topic(self) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap_servers)
        try:
            await admin.start()
            await admin.create_topics(
                [
                    NewTopic(
                        self.topic,
                        num_partitions=self.partitions,
                        replication_factor=self.replication_factor,
                        topic_configs={"min.insync.replicas": str(self.min_insync_replicas)},
                    )
                ]
            )
        except TopicAlreadyExistsError:
            pass
        finally:
            await admin.close()

    async def send(self, records: list[Record]) -> bool:
        """True once Kafka has acknowledged every record; False if it failed or was slow."""
        if not await self.connect():
            return False
        try:
            # In slices, yielding between them: sending a large backlog must not hold the
            # event loop the scoring requests share.
            for start in range(0, len(records), self.max_batch):
                futures = await self._submit(records[start : start + self.max_batch])
                await asyncio.wait_for(asyncio.gather(*futures), self.send_timeout_s)
                await asyncio.sleep(0)
        except (KafkaError, OSError, TimeoutError) as exc:
            log.warning("sending %d events to %s failed: %r", len(records), self.topic, exc)
            return False
        return True

    async def _submit(self, records: list[Record]) -> list[asyncio.Future[Any]]:
        """The records handed to the producer as one batch per partition (more where one
        fills), each record in the partition its key gives under the default partitioner:
        aiokafka's `send` costs about as much per record as the rest of a decision's audit
        (docs/performance.md)."""
        partitions = list(await self._producer.partitions_for(self.topic))
        batches: dict[int, BatchBuilder] = {}
        futures = []
        for key, value in records:
            partition = partitions[partition_index(key, len(partitions))]
            batch = batches.get(partition)
            if batch is None:
                batch = batches[partition] = self._producer.create_batch()
            if batch.append(key=key, value=value, timestamp=None) is None:  # full
                futures.append(await self._send_batch(batch, partition))
                batch = batches[partition] = self._producer.create_batch()
                batch.append(key=key, value=value, timestamp=None)
        for partition, batch in batches.items():
            futures.append(await self._send_batch(batch, partition))
        return futures

    async def _send_batch(self, batch: BatchBuilder, partition: int) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = await self._producer.send_batch(
            batch, self.topic, partition=partition
        )
        return future

    async def close(self) -> None:
        """Also when start-up was interrupted: a half-started client holds connections."""
        try:
            await asyncio.wait_for(self._producer.stop(), self.send_timeout_s)
        except (KafkaError, OSError, TimeoutError):
            # A broker that does not answer keeps aiokafka flushing what it holds and its
            # connections open: close them without the flush.
            with suppress(KafkaError, OSError, TimeoutError):
                await asyncio.wait_for(self._producer.client.close(), self.send_timeout_s)
