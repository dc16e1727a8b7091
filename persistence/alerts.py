"""Which decisions raise alerts, per-card deduplication, and the alert body (pure logic).

Decisions at the alert tiers (default high and critical) that are new to the database
become alert rows in the same transaction (an outbox), one per configured sink. Within
`dedup_s` of a card's last alert (by scoring time), further alerts for that card are
recorded as `suppressed` and not sent. The dispatcher delivers pending rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from persistence.backoff import delay


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    tiers: frozenset[str]
    sinks: tuple[str, ...]
    dedup_s: float = 900.0


@dataclass(frozen=True, slots=True)
class Candidate:
    scope: str
    transaction_id: str
    card_id: str
    scored_at: datetime
    risk_tier: str
    payload: dict[str, Any]


def alert_payload(
    request: Mapping[str, Any], response: Mapping[str, Any], scored_at: datetime, scope: str
) -> dict[str, Any]:
    """What every sink is told about a decision (`scope`: the id of the API key that scored
    it, within which its transaction id is unique)."""
    return {
        "scope": scope,
        "transaction_id": request["transaction_id"],
        "card_id": request["card_id"],
        "merchant_id": request["merchant_id"],
        "amount": request["amount"],
        "currency": request["currency"],
        "channel": request["channel"],
        "score": response["score"],
        "risk_tier": response["risk_tier"],
        "decision": response["decision"],
        "reasons": response.get("reasons", []),
        "model_version": response["model_version"],
        "scored_at": scored_at.isoformat(),
    }


def candidates(rows: Iterable[Mapping[str, Any]], policy: AlertPolicy) -> list[Candidate]:
    """Decisions at the policy's tiers, from rows with scope, transaction_id, card_id,
    scored_at, risk_tier, request and response (JSON text)."""
    out = []
    for row in rows:
        if row["risk_tier"] in policy.tiers:
            payload = alert_payload(
                orjson.loads(row["request"]),
                orjson.loads(row["response"]),
                row["scored_at"],
                row["scope"],
            )
            out.append(
                Candidate(
                    row["scope"],
                    row["transaction_id"],
                    row["card_id"],
                    row["scored_at"],
                    row["risk_tier"],
                    payload,
                )
            )
    return out


def deduplicate(
    found: Sequence[Candidate], last_alert: Mapping[str, datetime], dedup_s: float
) -> list[tuple[Candidate, str]]:
    """Each candidate with status `pending`, or `suppressed` when its card had an alert
    within dedup_s (earlier alerts in the database, or earlier candidates of this batch)."""
    window = timedelta(seconds=dedup_s)
    last = dict(last_alert)
    out = []
    for c in sorted(found, key=lambda c: (c.scored_at, c.scope, c.transaction_id)):
        previous = last.get(c.card_id)
        if previous is not None and abs(c.scored_at - previous) < window:
            out.append((c, "suppressed"))
        else:
            last[c.card_id] = c.scored_at
            out.append((c, "pending"))
    return out


def retry_delay_s(attempts: int, base_s: float, cap_s: float = 300.0) -> float:
    """Exponential backoff after the given number of failed attempts: the schedule, without
    jitter. The row's `next_attempt_at` is the record of when it is tried again, and the
    sink's rate limit already paces a burst of retries due together."""
    return delay(max(1, attempts), base_s, cap_s)
