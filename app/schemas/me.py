"""Body of GET /v1/me (documentation)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from app.scopes import Scope


class Me(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"key_id": "3f2a9c0d1e7b4a56", "scopes": ["read", "review"]}]
        }
    )

    key_id: str = Field(description="The key's public name: 16 hex digits of its SHA-256")
    scopes: list[Scope] = Field(description="Sorted, the implied ones included (review: read)")
