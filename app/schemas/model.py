"""Body of GET /v1/model: the bundles in service in the answering process."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

EXAMPLE: dict[str, Any] = {
    "champion": {
        "model_version": "2026-11-28T12:00:00Z-3f2a",
        "created_at": "2026-11-28T12:00:00Z",
        "directory": "/models/current",
        "ready": True,
    },
    "challenger": {
        "model_version": "2026-12-05T09:30:00Z-8b1c",
        "created_at": "2026-12-05T09:30:00Z",
        "directory": "/models/challenger",
        "ready": True,
    },
    "challenger_configured": True,
}


class BundleInfo(BaseModel):
    model_version: str
    created_at: str = Field(description="When `fraud train` wrote the bundle (UTC).")
    directory: str = Field(description="The directory it was loaded from, as configured.")
    ready: bool = Field(description="Compiled and checked (the readiness probe's model check).")


class ModelsInService(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": EXAMPLE})

    champion: BundleInfo | None = Field(description="The bundle that decides; null before a load.")
    challenger: BundleInfo | None = Field(
        description="The bundle scored in shadow (FRAUD_CHALLENGER_MODEL_DIR); null: none in "
        "service (not configured, or it failed to load: the reload's `challenger_error`)."
    )
    challenger_configured: bool = Field(description="FRAUD_CHALLENGER_MODEL_DIR is set.")
