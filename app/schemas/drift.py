"""Body of GET /v1/model/drift (documentation; the route writes it with orjson)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

EXAMPLE: dict[str, Any] = {
    "model_version": "2026-11-28T12:00:00Z-3f2a",
    "available": True,
    "reason": None,
    "window_s": 3600.0,
    "rows": 48210,
    "min_rows": 500,
    "reference_rows": 61234,
    "score_psi": 0.04,
    "features": [
        {
            "feature": "amount_log",
            "psi": 0.27,
            "missing_share": 0.0,
            "reference_missing_share": 0.0,
        },
        {
            "feature": "card_distance_from_centroid_km",
            "psi": 0.03,
            "missing_share": 0.41,
            "reference_missing_share": 0.38,
        },
    ],
}


class FeatureDrift(BaseModel):
    feature: str
    psi: float | None = Field(
        description="Population stability index, live window vs reference (null: fewer "
        "rows than min_rows)"
    )
    missing_share: float | None = Field(
        description="Share of the window's rows missing the feature (null: no rows)"
    )
    reference_missing_share: float = Field(
        description="Share of the reference's rows missing the feature"
    )


class DriftReport(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    model_version: str | None = Field(description="The bundle in service in this process")
    available: bool = Field(description="False: drift is off, or the bundle has no reference")
    reason: str | None = Field(description="Why drift is not available")
    window_s: float | None = Field(description="The live window's length (FRAUD_DRIFT_WINDOW_S)")
    rows: int = Field(description="Rows scored with their windows in the live window")
    min_rows: int = Field(description="Fewest rows for a PSI (FRAUD_DRIFT_MIN_ROWS)")
    reference_rows: int = Field(description="Rows of the bundle's reference (validation split)")
    score_psi: float | None = Field(description="PSI of the score (null: too few rows)")
    features: list[FeatureDrift] = Field(
        description="The watched features, the most drifted first (no PSI yet: last)"
    )
