"""Bodies of the review queue's endpoints (documentation and validation)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.schemas.fields import SCOPE_DESCRIPTION, Identifier, Rfc3339
from app.schemas.history import TransactionSummary
from vocabulary import Decision, Tier

Status = Literal["open", "assigned", "closed"]
Verdict = Literal["fraud", "legitimate"]
# A case id in a path: decimal digits of a positive bigint, nothing else ("01", "1.0", " 1"
# and "+1" are refused).
CaseId = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{0,17}$")]
NOTE_MAX = 2_000
# Text for people: line breaks and tabs, no other control character (NUL included).
Note = Annotated[
    str,
    StringConstraints(max_length=NOTE_MAX, pattern=r"^[^\x00-\x08\x0b-\x1f\x7f-\x9f]*$"),
]


class AssignRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"assignee": "analyst.kim"}]}
    )

    assignee: Identifier = Field(description="Who works the case (an analyst's name or id)")


class BlockCard(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Identifier = Field(description="Why the card is blocked (kept with the list entry)")
    expires_at: Rfc3339 | None = Field(None, description="When the block ends; default: never")


class ResolveRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "verdict": "fraud",
                    "note": "cardholder confirmed they did not make these purchases",
                    "block_card": {
                        "reason": "confirmed fraud",
                        "expires_at": "2027-06-01T00:00:00Z",
                    },
                },
                {"verdict": "legitimate", "note": "customer travelling, confirmed by phone"},
            ]
        },
    )

    verdict: Verdict = Field(description="The label every transaction of the case gets")
    note: Note | None = Field(None, description="The analyst's note, kept with the case")
    block_card: BlockCard | None = Field(
        None, description="Also add the case's card to the block list, in the same transaction"
    )


class Case(BaseModel):
    id: int
    card_id: str
    status: Status
    assignee: str | None
    risk_tier: Tier = Field(description="The highest tier of its transactions")
    opened_at: datetime
    updated_at: datetime
    first_transaction_at: datetime = Field(description="Event time of its first transaction")
    last_transaction_at: datetime = Field(description="Event time of its last transaction")
    transaction_count: int
    total_amount: float
    verdict: Verdict | None
    note: str | None
    resolved_by: str | None = Field(description="Key id (app.auth.key_id) that resolved it")
    resolved_at: datetime | None


class CasePage(BaseModel):
    items: list[Case]
    next_cursor: str | None = Field(
        description="Pass as `cursor` (with the same filters) for the next page; null on the last"
    )
    total: int = Field(
        description="Cases the filters match over all pages (by default: the open queue's size)"
    )


class CaseTransaction(BaseModel):
    scope: str = Field(description=SCOPE_DESCRIPTION)
    transaction_id: str
    scored_at: datetime
    event_time: datetime
    merchant_id: str
    amount: float
    currency: str
    channel: str
    score: float
    risk_tier: Tier
    decision: Decision
    model_version: str
    degraded: bool
    reasons: list[dict[str, Any]]
    components: dict[str, Any]
    rules: list[dict[str, Any]] = Field(description="Matched rules: {id, action, mode}")
    list_match: dict[str, Any] | None = Field(
        alias="list", description="The list entry that decided ({id, entity, action}), if any"
    )
    decision_source: str = Field(description="`model`, `rule:<id>` or `list:<id>`")
    added_at: datetime = Field(description="When it joined the case")
    label: Verdict | None = Field(description="Its effective label, if any")


class CardDecision(TransactionSummary):
    decision_source: str


class CaseDetail(Case):
    transactions: list[CaseTransaction]
    card_history: list[CardDecision] = Field(
        description="The card's latest decisions (at most 20), newest first"
    )


class ResolveResponse(Case):
    labelled: int = Field(description="Transactions labelled with the verdict")
    list_entry: dict[str, Any] | None = Field(description="The block list entry, if one was made")
