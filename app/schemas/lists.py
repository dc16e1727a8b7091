"""Bodies of /v1/lists (documentation and validation)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.schemas.fields import IDENTIFIER_MAX, Rfc3339
from vocabulary import Entity, ListAction

REASON_MAX = 500


class ListEntryRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "entity": "card",
                    "value": "card_tok_8f3a",
                    "action": "block",
                    "reason": "confirmed card testing, case 1842",
                    "expires_at": "2027-01-31T00:00:00Z",
                },
                {"entity": "ip", "value": "198.51.100.0/24", "action": "review", "reason": "proxy"},
            ]
        },
    )

    entity: Entity
    value: str = Field(
        min_length=1,
        max_length=IDENTIFIER_MAX,
        description="Matched exactly against the request's field (`card_id`, `account_id`, "
        "`device_id`, `ip_address`, `merchant_id`), both stored in one spelling (format "
        "characters removed, then NFKC): 1-128 printable characters; for `ip` an "
        "IPv4 or IPv6 address (normalised as the request's) or a CIDR range without host bits, "
        "at most /8 (IPv4) or /16 (IPv6) wide by default (FRAUD_LIST_MIN_IPV4_PREFIX, "
        "FRAUD_LIST_MIN_IPV6_PREFIX)",
    )
    action: ListAction
    reason: str = Field(min_length=1, max_length=REASON_MAX, pattern=r"^[^\x00-\x1f\x7f-\x9f]+$")
    expires_at: Rfc3339 | None = Field(
        None, description="When the entry stops applying (in the future); default: never"
    )


class ListEntryOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 17,
                    "entity": "card",
                    "value": "card_tok_8f3a",
                    "action": "block",
                    "reason": "confirmed card testing, case 1842",
                    "expires_at": "2027-01-31T00:00:00Z",
                    "created_at": "2026-12-02T09:14:03.201Z",
                    "created_by": "3f2a9c01d4e5b6a7",
                    "deleted_at": None,
                    "deleted_by": None,
                }
            ]
        }
    )

    id: int = Field(description="`decision_source` names it as `list:<id>`")
    entity: Entity
    value: str = Field(description="As matched: an IP address or range normalised")
    action: ListAction
    reason: str
    expires_at: datetime | None
    created_at: datetime
    created_by: str | None = Field(description="The id of the API key that added it")
    deleted_at: datetime | None
    deleted_by: str | None = Field(description="The id of the API key that deleted it")


class ListEntryPage(BaseModel):
    items: list[ListEntryOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next (older) page; null on the last page"
    )
