"""The audit event: one per decision, on topic `transactions.scored`, keyed by card_id.

Format v1, written down once (tests pin it to the exact bytes): a JSON object with
sorted keys, no whitespace:

    {"decision": <the /v1/score response as sent>,
     "request": <the validated request, missing optional fields as null>,
     "schema": 1,
     "scored_at": "<UTC, RFC 3339, microseconds>"}

Consumers must accept unknown keys and refuse other schema numbers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

SCHEMA = 1
TOPIC = "transactions.scored"


def audit_event(request: dict[str, Any], response_body: bytes, scored_at: datetime) -> bytes:
    return orjson.dumps(
        {
            "decision": orjson.Fragment(response_body),
            "request": request,
            "schema": SCHEMA,
            "scored_at": scored_at.astimezone(UTC)
            .isoformat(timespec="microseconds")
            .replace("+00:00", "Z"),
        },
        option=orjson.OPT_SORT_KEYS,
    )
