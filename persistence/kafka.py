"""Helpers around aiokafka shared by the audit consumer and the live feed."""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer

log = logging.getLogger(__name__)


async def stop_consumer(consumer: AIOKafkaConsumer) -> None:
    """consumer.stop(), also when the broker is gone.

    aiokafka (0.14) lets a CancelledError of its own out of stop() when a fetch was backing
    off from a broker that has gone away (aio-libs/aiokafka#647), before it closes its
    client, whose metadata task would then retry forever. Here the client is closed all the
    same, and only a cancellation of the calling task is passed on."""
    try:
        await consumer.stop()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
        log.warning("Kafka consumer stopped while its broker was unreachable")
        await consumer._client.close()  # what stop() did not reach
