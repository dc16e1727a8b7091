"""The error envelope every refusal uses, as the OpenAPI document describes it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    error: str = Field(description="A machine-readable code: unauthorized, not_found, ...")
    detail: Any = Field(description="What went wrong, for people")


class FieldError(BaseModel):
    field: str = Field(description="The field, dotted (query.limit, card_id, body)")
    message: str
    type: str = Field(description="pydantic's error type, or ours (duplicate_key, cursor, rule)")
    position: int | None = Field(
        None,
        description="For a rule's condition: the 0-based character offset of the error "
        "(absent otherwise)",
    )


class ValidationErrorBody(BaseModel):
    error: Literal["validation_error"]
    detail: list[FieldError]
