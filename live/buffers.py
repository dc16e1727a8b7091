"""The live stream's pure parts: per-client bounded buffers and one-second aggregates.

A message is encoded once and appended to every client's buffer; nothing here awaits,
so a broadcast costs the same whatever the clients do. A client that does not keep up
loses its oldest messages (counted, and told with a `dropped` message), never slowing
the others or the scoring path.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
from prometheus_client import Counter as Metric

STREAM_DROPPED = Metric("fraud_stream_dropped_total", "Stream messages dropped for slow clients")
AT_RISK_TIERS = frozenset({"high", "critical"})


@dataclass(eq=False)
class Client:
    limit: int
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

    def join(self) -> Client:
        client = Client(self.client_buffer)
        self.clients.add(client)
        return client

    def leave(self, client: Client) -> None:
        self.clients.discard(client)

    def broadcast(self, message: dict[str, Any]) -> None:
        encoded = orjson.dumps(message)
        for client in self.clients:
            client.push(encoded)


def decision_message(event: dict[str, Any]) -> dict[str, Any]:
    """A stream message from an audit event (persistence/events.py)."""
    request, decision = event["request"], event["decision"]
    return {
        "type": "decision",
        "transaction_id": request["transaction_id"],
        "scored_at": event["scored_at"],
        "card_id": request["card_id"],
        "merchant_id": request["merchant_id"],
        "amount": request["amount"],
        "currency": request["currency"],
        "channel": request["channel"],
        "score": decision["score"],
        "risk_tier": decision["risk_tier"],
        "decision": decision["decision"],
        "degraded": decision["degraded"],
        "latency_ms": decision.get("latency_ms"),
        "reasons": [r["feature"] for r in decision.get("reasons", [])],
    }


@dataclass
class Aggregator:
    """Decisions of one second; `summary` turns them into one aggregate message."""

    tiers: Counter[str] = field(default_factory=Counter)
    decisions: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    at_risk: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    degraded: int = 0

    def add(self, message: dict[str, Any]) -> None:
        self.tiers[message["risk_tier"]] += 1
        self.decisions[message["decision"]] += 1
        self.degraded += bool(message["degraded"])
        if message["latency_ms"] is not None:
            self.latencies.append(float(message["latency_ms"]))
        if message["risk_tier"] in AT_RISK_TIERS:
            self.at_risk[message["currency"]] += float(message["amount"])

    def summary(self, second: str) -> dict[str, Any]:
        latency = np.asarray(self.latencies)
        out = {
            "type": "aggregate",
            "second": second,
            "count": sum(self.tiers.values()),
            "tiers": {t: self.tiers[t] for t in ("low", "medium", "high", "critical")},
            "decisions": {d: self.decisions[d] for d in ("approve", "review", "decline")},
            "degraded": self.degraded,
            "latency_ms": {
                "p50": float(np.percentile(latency, 50)) if latency.size else None,
                "p99": float(np.percentile(latency, 99)) if latency.size else None,
            },
            "amount_at_risk": {c: round(v, 2) for c, v in sorted(self.at_risk.items())},
        }
        return out
