"""The live feed of one API process: it reads the audit topic from its end (no consumer
group: every process sees every decision) and broadcasts decisions and, every second,
an aggregate to the stream's clients. Started when the first client connects."""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from datetime import UTC, datetime, timedelta

import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from live.aggregates import Aggregator, decision_message
from live.buffers import Hub
from persistence.kafka import stop_consumer

log = logging.getLogger(__name__)


class Feed:
    def __init__(self, bootstrap_servers: str, topic: str, hub: Hub) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self.hub = hub
        self.aggregator = Aggregator()
        self.ready = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def ensure_started(self) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._consume(), name="stream-feed"),
                asyncio.create_task(self._tick(), name="stream-aggregates"),
            ]

    async def _assign(self, consumer: AIOKafkaConsumer) -> None:
        """Every partition of the topic (without a group, subscribing assigns them all, once
        the topic exists), positioned at its end."""
        consumer.subscribe([self.topic])
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=200)  # drives the metadata refresh
        await consumer.seek_to_end()

    async def _consume(self) -> None:
        while True:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap_servers, group_id=None, enable_auto_commit=False
            )
            try:
                await consumer.start()
                await self._assign(consumer)
                self.ready.set()
                while True:
                    batches = await consumer.getmany(timeout_ms=500, max_records=1_000)
                    for messages in batches.values():
                        for m in messages:
                            self._publish(m.value)
            except (KafkaError, OSError) as exc:
                log.warning("stream feed lost Kafka (%r); reconnecting", exc)
                await asyncio.sleep(1.0)
            finally:
                with suppress(KafkaError, OSError):
                    await stop_consumer(consumer)

    def _publish(self, value: bytes | None) -> None:
        try:
            message = decision_message(orjson.loads(value or b""))
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            log.warning("stream feed skipped a message: %r", exc)
            return
        self.aggregator.add(message)
        self.hub.broadcast(message)

    async def _tick(self) -> None:
        while True:
            # Wake just after each second of the wall clock and report the second that ended.
            await asyncio.sleep(1.0 - (datetime.now(UTC).timestamp() % 1.0))
            ended = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
            done, self.aggregator = self.aggregator, Aggregator()
            self.hub.broadcast(done.summary(ended.isoformat().replace("+00:00", "Z")))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with suppress(asyncio.CancelledError):
                await task
        self._tasks = []
