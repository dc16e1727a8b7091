"""Body of GET /v1/reports/performance (documentation): monitoring.figures' report as JSON
(docs/reports.md explains each figure)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class MoneyOut(BaseModel):
    currency: str = Field(description="Amounts are never summed across currencies")
    fraud_amount: float = Field(description="Confirmed fraud")
    fraud_declined: float
    fraud_review: float = Field(description="Fraud sent to review")
    fraud_approved: float = Field(description="Fraud approved: missed")
    legitimate_declined: float = Field(
        description="Declined and labelled legitimate, or unlabelled and mature"
    )
    pending_amount: float = Field(description="Unlabelled and immature: in no figure above")
    value_detection_rate: float | None = Field(
        description="(fraud declined + sent to review) / fraud amount; null without fraud"
    )


class FiguresOut(BaseModel):
    name: str = Field(description='ISO week ("2026-W49"), "period" or "immature weeks"')
    start: str
    end: str = Field(description="Excluded")
    mature: bool = Field(
        description="Every transaction the span can hold is FRAUD_LABEL_DELAY_DAYS old"
    )
    label_age_days: float = Field(
        description="Labels are known up to this many days after the span's last transaction"
    )
    decisions: int
    fraud: int = Field(description="Confirmed fraud (effective label)")
    legitimate: int = Field(description="Labelled legitimate, or unlabelled and mature")
    unlabelled: int = Field(description="Of `legitimate`, those nobody labelled")
    pending: int = Field(description="Unlabelled and immature: in no rate")
    flagged: int = Field(description="Decisions review and decline")
    reviews: int
    declines: int
    average_precision: float | None = Field(description="Of the stored scores; null: one class")
    precision: float | None = Field(description="Fraud among the flagged; null: none flagged")
    recall: float | None = Field(description="Flagged among the fraud; null: no fraud")
    false_positive_rate: float | None = Field(
        description="Flagged among the legitimate; null: none"
    )
    review_cost: float = Field(description="reviews x cost_per_review")
    money: list[MoneyOut] = Field(description="The business view, one item per currency")


class PerformanceReportOut(BaseModel):
    since: str
    until: str
    as_of: str = Field(description="When the report was made: maturity is counted to it")
    label_delay_days: float
    cost_per_review: float
    weeks: list[FiguresOut] = Field(description="ISO weeks (Monday 00:00 UTC), clipped")
    period: FiguresOut | None = Field(
        description="The mature weeks together: the headline; null: no week is mature"
    )
    immature: FiguresOut | None = Field(
        description="The immature weeks together, shown apart; null: none"
    )
