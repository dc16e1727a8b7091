"""The audit event: one per decision, on topic `transactions.scored`, keyed by card_id.

Format v1, written down once (tests pin it to the exact bytes): a JSON object with
sorted keys, no whitespace:

    {"decision": <the /v1/score response as sent>,
     "request": <the validated request, missing optional fields as null>,
     "schema": 1,
     "scope": "<the id of the API key that scored it>",
     "scored_at": "<UTC, RFC 3339, microseconds>"}

A transaction id is unique only within its scope (the scoring key's id, app.auth.key_id):
two keys may send the same id for different transactions. Events written before scopes
have no `scope` key and belong to the empty scope "". Consumers must accept unknown keys
and refuse other schema numbers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

SCHEMA = 1
TOPIC = "transactions.scored"


def audit_event(
    request: dict[str, Any], response_body: bytes, scored_at: datetime, scope: str
) -> bytes:
    return orjson.dumps(
        {
            "decision": orjson.Fragment(response_body),
            "request": request,
            "schema": SCHEMA,
            "scope": scope,
            "scored_at": _rfc3339(scored_at),
        },
        option=orjson.OPT_SORT_KEYS,
    )


def scored_at_text(scored_at: datetime) -> bytes:
    """`scored_at` as the event writes it, JSON-encoded (for encoded_audit_event)."""
    return orjson.dumps(_rfc3339(scored_at))


def encoded_audit_event(
    request_json: bytes, response_body: bytes, scored_at: bytes, scope: str
) -> bytes:
    """audit_event's bytes, from parts already encoded: the request as JSON with its keys
    sorted, the answer as sent, and scored_at_text's (shared by a batch's events). No part
    is encoded again."""
    return b'{"decision":%b,"request":%b,"schema":%d,"scope":%b,"scored_at":%b}' % (
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
