"""The live stream's messages: a decision from an audit event, and the aggregate of one
second of decisions. Pure functions and data; nothing here awaits."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vocabulary import DECISIONS, TIERS, Tier

AT_RISK_TIERS: frozenset[Tier] = frozenset({"high", "critical"})


def decision_message(event: dict[str, Any]) -> dict[str, Any]:
    """A stream message from an audit event (persistence/message_format.py)."""
    request, decision = event["request"], event["decision"]
    return {
        "type": "decision",
        # The id of the API key that scored it: its transaction id is unique within it
        # (events from before scopes have none: '').
        "scope": event.get("scope", ""),
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
        # Decisions stored before the decision layer carry none of these: the model decided.
        "decision_source": decision.get("decision_source", "model"),
        "rules": [
            {"id": r["id"], "action": r["action"], "mode": r["mode"]}
            for r in decision.get("rules", ())
        ],
        "model_version": decision.get("model_version"),
    }


@dataclass
class Aggregator:
    """Decisions of one second; `summary` turns them into one aggregate message."""

    tiers: Counter[str] = field(default_factory=Counter)
    decisions: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    at_risk: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    # Amounts per currency by what was decided (amount_at_risk goes by tier instead).
    declined: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    reviewed: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    degraded: int = 0

    def add(self, message: dict[str, Any]) -> None:
        self.tiers[message["risk_tier"]] += 1
        self.decisions[message["decision"]] += 1
        self.degraded += bool(message["degraded"])
        if message["latency_ms"] is not None:
            self.latencies.append(float(message["latency_ms"]))
        if message["risk_tier"] in AT_RISK_TIERS:
            self.at_risk[message["currency"]] += float(message["amount"])
        if message["decision"] == "decline":
            self.declined[message["currency"]] += float(message["amount"])
        elif message["decision"] == "review":
            self.reviewed[message["currency"]] += float(message["amount"])

    def summary(self, second: str) -> dict[str, Any]:
        latency = np.asarray(self.latencies)
        out = {
            "type": "aggregate",
            "second": second,
            "count": sum(self.tiers.values()),
            "tiers": {t: self.tiers[t] for t in TIERS},
            "decisions": {d: self.decisions[d] for d in DECISIONS},
            "degraded": self.degraded,
            "latency_ms": {
                "p50": float(np.percentile(latency, 50)) if latency.size else None,
                "p99": float(np.percentile(latency, 99)) if latency.size else None,
            },
            "amount_at_risk": _rounded(self.at_risk),
            "declined_amount": _rounded(self.declined),
            "review_amount": _rounded(self.reviewed),
        }
        return out


def _rounded(amounts: dict[str, float]) -> dict[str, float]:
    return {currency: round(v, 2) for currency, v in sorted(amounts.items())}
