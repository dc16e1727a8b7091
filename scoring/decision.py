"""The core's answer for one transaction, and its one JSON encoding.

The encoding is a format, written down once: it is the body of POST /v1/score
(documented by app.schemas.score.ScoreResponse), the answer stored for retries
(returned verbatim to a retried transaction id), and the `decision` of the audit
event. A decision is encoded once, however many of those it goes to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from controls.hits import ListHit, RuleHit
from ensemble.bundle import Reason


@dataclass(frozen=True, slots=True)
class Shadow:
    """What the challenger made of the same features: its score, tier, and the decision it
    would have given under the same policy, lists and rules. Never in the answer; the audit
    event carries it (persistence.message_format.challenger_json)."""

    model_version: str
    score: float
    risk_tier: str
    decision: str


@dataclass(slots=True)
class Decision:
    """Not frozen: a frozen dataclass's __init__ costs a few microseconds more, on every
    request; nothing changes a decision once built."""

    transaction_id: str
    score: float
    risk_tier: str
    decision: str
    # What decided: "model", "rule:<id>" or "list:<id>"; the rules that matched (active and
    # shadow, in priority order); the list entry that decided, if one did.
    decision_source: str
    rules: tuple[RuleHit, ...]
    list_hit: ListHit | None
    reasons: tuple[Reason, ...]
    components: dict[str, float]  # "xgboost", "isolation_forest"
    model_version: str
    degraded: bool  # the feature store was not used: request-only features
    latency_ms: float  # from receiving the request to this answer
    # The challenger's result where one is in shadow: in the audit event, not the answer.
    challenger: Shadow | None = field(default=None, compare=False)
    _json: bytes | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def json(self) -> bytes:
        """The encoded answer: keys in field order, reasons as objects; encoded once."""
        if self._json is None:
            self._json = self._encode()
        return self._json

    def _encode(self) -> bytes:
        return orjson.dumps(
            {
                "transaction_id": self.transaction_id,
                "score": self.score,
                "risk_tier": self.risk_tier,
                "decision": self.decision,
                "decision_source": self.decision_source,
                "rules": [r.encoded for r in self.rules],
                "list": None if self.list_hit is None else self.list_hit.as_json(),
                "reasons": [_reason(r) for r in self.reasons],
                "components": self.components,
                "model_version": self.model_version,
                "degraded": self.degraded,
                "latency_ms": self.latency_ms,
            }
        )

    @classmethod
    def from_json(cls, data: bytes) -> Decision:
        """A stored answer; its `json` is the stored bytes themselves, so a retry gets the
        first answer byte for byte."""
        d: dict[str, Any] = orjson.loads(data)
        decision = cls(
            transaction_id=d["transaction_id"],
            score=d["score"],
            risk_tier=d["risk_tier"],
            decision=d["decision"],
            # An answer stored by a release before the decision layer has none of these.
            decision_source=d.get("decision_source", "model"),
            rules=tuple(RuleHit(**r) for r in d.get("rules", ())),
            list_hit=None if d.get("list") is None else ListHit(**d["list"]),
            reasons=tuple(Reason(**r) for r in d["reasons"]),
            components=d["components"],
            model_version=d["model_version"],
            degraded=d["degraded"],
            latency_ms=d["latency_ms"],
        )
        decision._json = data
        return decision


def _reason(r: Reason) -> dict[str, object]:
    return {"feature": r.feature, "value": r.value, "contribution": r.contribution}
