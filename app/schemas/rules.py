"""Bodies of the rules endpoints (documentation and validation; the condition's grammar
and names are checked by controls.expression when the rule is compiled)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.schemas.fields import Rfc3339
from vocabulary import DECISIONS, RAISE_TO, TIERS, RuleMode

ACTION = f"^({'|'.join(DECISIONS)}|{RAISE_TO}({'|'.join(TIERS)}))$"
Action = Annotated[str, StringConstraints(pattern=ACTION)]
Description = Annotated[str, StringConstraints(max_length=500, pattern=r"^[^\x00-\x1f\x7f-\x9f]*$")]
# A condition may span lines (newlines and tabs allowed), never other control characters.
Condition = Annotated[
    str,
    StringConstraints(min_length=1, max_length=2_000, pattern=r"^[^\x00-\x08\x0b-\x1f\x7f-\x9f]+$"),
]
EXAMPLE: dict[str, Any] = {
    "description": "Large e-commerce payment from a card used in a new country",
    "condition": 'amount > 2000 and channel == "ecommerce" and card_country_changed == 1',
    "action": "review",
    "mode": "active",
    "priority": 10,
}


class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE]})

    description: Description = ""
    condition: Condition = Field(
        description="An expression over the request fields, the catalogue's features, "
        "`score`, `risk_tier`, `xgboost` and `isolation_forest` (docs/rules.md)"
    )
    action: Action = Field(description="approve, review, decline or raise_to:<tier>")
    mode: RuleMode = Field(
        "active", description="shadow: evaluated and counted, never changes a decision"
    )
    priority: int = Field(
        100, strict=True, ge=0, le=1_000_000, description="Lower is evaluated first"
    )
    expected_version: int | None = Field(
        None,
        strict=True,
        ge=0,
        description="Refuse the change (409) unless the rule is at this version now "
        "(0: it must not exist yet)",
    )


class RuleErrorsOut(BaseModel):
    batches: int = Field(description="Scoring batches in which the rule raised")
    error: str = Field(description="The latest error, as `<type>: <message>`")
    first_at: datetime
    last_at: datetime


class RuleOut(BaseModel):
    id: str
    description: str
    condition: str
    action: str
    mode: RuleMode
    priority: int
    version: int = Field(description="This rule's version: 1 when created, +1 per change")
    updated_at: datetime
    updated_by: str | None = Field(description="The API key that wrote this version (its id)")
    errors: RuleErrorsOut | None = Field(
        None,
        description="Whether this version of the rule raised while the process that answers "
        "scored (each process keeps its own): it was then skipped in those batches, whose "
        "answers carry the model's decision and the other rules. Null: it never did. Given "
        "by the reads (GET), not by PUT.",
    )


class RuleList(BaseModel):
    version: int = Field(description="The rule set's version: the number of its latest change")
    rules: list[RuleOut] = Field(description="In order of evaluation: priority, then id")


class RuleChange(BaseModel):
    change: int
    version: int
    changed_at: datetime
    changed_by: str | None
    before: dict[str, Any] | None = Field(description="null when the rule was created")
    after: dict[str, Any] | None = Field(description="null when the rule was deleted")


class BacktestRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "condition": EXAMPLE["condition"],
                    "action": "review",
                    "since": "2026-11-01T00:00:00Z",
                    "until": "2026-12-01T00:00:00Z",
                }
            ]
        },
    )

    condition: Condition
    action: Action
    since: Rfc3339 = Field(description="Transactions scored at or after (RFC 3339)")
    until: Rfc3339 = Field(description="Transactions scored before (RFC 3339)")


class BacktestReportOut(BaseModel):
    condition: str
    action: str
    since: str
    until: str
    rows: int = Field(description="Transactions of the period evaluated")
    hits: int
    hits_fraud: int = Field(description="Hits whose latest label is fraud")
    hits_legitimate: int = Field(description="Hits whose latest label is legitimate")
    hits_unlabelled: int
    fraud: int = Field(description="Confirmed fraud in the period, hit or not")
    recall: float | None = Field(description="hits_fraud / fraud")
    precision: float | None = Field(description="hits_fraud / labelled hits")
    fraud_amount_caught: dict[str, float] = Field(description="Per currency")
    fraud_amount_total: dict[str, float] = Field(description="Per currency")
    decision_changes: dict[str, dict[str, int]] = Field(
        description="{from: {to: count}} for the hits whose decision would change"
    )
    kept_by_list: int = Field(description="Hits a list decided: lists win over rules")


RuleId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]


class RuleHitCount(BaseModel):
    rule_id: str
    mode: RuleMode = Field(description="The rule's mode when it matched")
    count: int = Field(description="Stored decisions in which the rule's condition held")


class RuleHits(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "since": "2026-12-01T09:00:00Z",
                    "until": "2026-12-02T09:00:00Z",
                    "hits": [
                        {"rule_id": "atm_night_burst", "mode": "active", "count": 412},
                        {"rule_id": "new_device_big", "mode": "shadow", "count": 97},
                    ],
                }
            ]
        }
    )

    since: datetime
    until: datetime
    hits: list[RuleHitCount] = Field(description="Most hits first; rules without hits absent")
