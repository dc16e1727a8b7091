"""The live stream's per-client bounded buffers.

A message is encoded once and appended to every client's buffer; nothing here awaits,
so a broadcast costs the same whatever the clients do. A client that does not keep up
loses its oldest messages (counted, and told with a `dropped` message), never slowing
the others or the scoring path.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import orjson
from prometheus_client import Counter as Metric

STREAM_DROPPED = Metric("fraud_stream_dropped_total", "Stream messages dropped for slow clients")


@dataclass(eq=False)
class Client:
    limit: int
    # Decisions of this scope only (a key that scores sees only its own transactions);
    # None: every decision.
    only: str | None = None
    buffer: deque[bytes] = field(default_factory=deque)
    dropped: int = 0
    unreported: int = 0
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def push(self, message: bytes) -> None:
        if len(self.buffer) >= self.limit:
            self.buffer.popleft()
            self.dropped += 1
            self.unreported += 1
            STREAM_DROPPED.inc()
        self.buffer.append(message)
        self.wake.set()

    def take(self) -> list[bytes]:
        """What is waiting, oldest first, after a `dropped` notice if any were lost."""
        out = []
        if self.unreported:
            out.append(orjson.dumps({"type": "dropped", "count": self.unreported}))
            self.unreported = 0
        out += self.buffer
        self.buffer.clear()
        self.wake.clear()
        return out


class Hub:
    def __init__(self, client_buffer: int = 1_000) -> None:
        self.client_buffer = client_buffer
        self.clients: set[Client] = set()

    def join(self, only: str | None = None) -> Client:
        client = Client(self.client_buffer, only)
        self.clients.add(client)
        return client

    def leave(self, client: Client) -> None:
        self.clients.discard(client)

    def broadcast(self, message: dict[str, Any]) -> None:
        """To every client; a decision only to the clients that see its scope."""
        encoded = orjson.dumps(message)
        scope = message.get("scope") if message.get("type") == "decision" else None
        for client in self.clients:
            if scope is None or client.only is None or client.only == scope:
                client.push(encoded)
