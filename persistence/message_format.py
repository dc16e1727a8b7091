"""The audit event: one per decision, on topic `transactions.scored`, keyed by card_id.

Format v1, written down once (tests pin it to the exact bytes): a JSON object with
sorted keys, no whitespace:

    {"challenger": <the challenger's shadow result, only when one was loaded>,
     "decision": <the /v1/score response as sent>,
     "request": <the validated request, missing optional fields as null>,
     "schema": 1,
     "scope": "<the id of the API key that scored it>",
     "scored_at": "<UTC, RFC 3339, microseconds>"}

A transaction id is unique only within its scope (the scoring key's id, app.auth.key_id):
two keys may send the same id for different transactions. Events written before scopes
have no `scope` key and belong to the empty scope "". Consumers must accept unknown keys
and refuse other schema numbers.

`challenger` (FRAUD_CHALLENGER_MODEL_DIR) is what the bundle in shadow made of the same
features: `{"decision": ..., "model_version": ..., "risk_tier": ..., "score": ...}`. It
never decided and is not in the answer; an event without it had no challenger.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

SCHEMA = 1
TOPIC = "transactions.scored"


def audit_event(
    request: dict[str, Any],
    response_body: bytes,
    scored_at: datetime,
    scope: str,
    challenger: dict[str, Any] | None = None,
) -> bytes:
    event: dict[str, Any] = {
        "decision": orjson.Fragment(response_body),
        "request": request,
        "schema": SCHEMA,
        "scope": scope,
        "scored_at": _rfc3339(scored_at),
    }
    if challenger is not None:
        event["challenger"] = challenger
    return orjson.dumps(event, option=orjson.OPT_SORT_KEYS)


def scored_at_text(scored_at: datetime) -> bytes:
    """`scored_at` as the event writes it, JSON-encoded (for encoded_audit_event)."""
    return orjson.dumps(_rfc3339(scored_at))


def challenger_json(decision: str, model_version: str, risk_tier: str, score: float) -> bytes:
    """The event's `challenger` object, keys sorted (for encoded_audit_event)."""
    return orjson.dumps(
        {
            "decision": decision,
            "model_version": model_version,
            "risk_tier": risk_tier,
            "score": score,
        }
    )


def encoded_audit_event(
    request_json: bytes,
    response_body: bytes,
    scored_at: bytes,
    scope: str,
    challenger: bytes | None = None,
) -> bytes:
    """audit_event's bytes, from parts already encoded: the request as JSON with its keys
    sorted, the answer as sent, scored_at_text's (shared by a batch's events) and
    challenger_json's. No part is encoded again."""
    return b'{%b"decision":%b,"request":%b,"schema":%d,"scope":%b,"scored_at":%b}' % (
        b"" if challenger is None else b'"challenger":%b,' % challenger,
        response_body,
        request_json,
        SCHEMA,
        orjson.dumps(scope),
        scored_at,
    )


LABELS_TOPIC = "transactions.labels"


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def label_event(
    scope: str, transaction_id: str, label: str, source: str, reported_at: datetime, card_id: str
) -> bytes:
    """A confirmed label on topic `transactions.labels`, keyed by card_id (same conventions as
    the audit event; downstream is idempotent on scope, transaction_id and source):

        {"card_id": ..., "label": "fraud"|"legitimate", "reported_at": "<RFC 3339 UTC>",
         "schema": 1, "scope": ..., "source": ..., "transaction_id": ...}
    """
    return orjson.dumps(
        {
            "card_id": card_id,
            "label": label,
            "reported_at": _rfc3339(reported_at),
            "schema": SCHEMA,
            "scope": scope,
            "source": source,
            "transaction_id": transaction_id,
        },
        option=orjson.OPT_SORT_KEYS,
    )
