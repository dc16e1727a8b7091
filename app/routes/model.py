"""GET /v1/model: the bundles in service (champion and challenger) in the answering process;
GET /v1/model/drift: the drift figures of the champion, the same as its /metrics gauges, for
the console."""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from app.bodies import json_response
from app.deps import ModelsDep, ReadCaller
from app.openapi import documented_errors, keyed
from app.schemas.drift import DriftReport
from app.schemas.model import ModelsInService
from ensemble.bundle import ModelBundle
from scoring.models import ModelHolder

router = APIRouter(prefix="/v1/model", tags=["model"])


@router.get(
    "",
    response_model=ModelsInService,
    summary="The model bundles in service: the champion that decides, the challenger in shadow",
    responses=documented_errors(keyed("read")),
)
async def in_service(caller: ReadCaller, models: ModelsDep) -> Response:
    """What the answering process serves (with several replicas, ask each, or read
    `fraud_model_reloads_total` and the decisions' `model_version`)."""
    return json_response(
        {
            "champion": _info(models.bundle),
            "challenger": _info(models.challenger),
            "challenger_configured": models.challenger_path is not None,
        }
    )


def _info(bundle: ModelBundle | None) -> dict[str, Any] | None:
    if bundle is None:
        return None
    return {
        "model_version": bundle.version,
        "created_at": bundle.manifest.created_at,
        "directory": str(bundle.path),
        "ready": bundle.ready,
    }


@router.get(
    "/drift",
    response_model=DriftReport,
    summary="How far recent traffic has drifted from the model's training reference",
    responses=documented_errors(keyed("read")),
)
async def drift(caller: ReadCaller, models: ModelsDep) -> Response:
    """Per watched feature and for the score: the population stability index of the live
    window against the bundle's reference, and the share of missing values on each side
    (docs/drift.md). With `--workers N`, the figures of the worker that answers."""
    return json_response(drift_report(models))


def drift_report(models: ModelHolder) -> dict[str, Any]:
    bundle, window = models.bundle, models.drift
    report: dict[str, Any] = {
        "model_version": None if bundle is None else bundle.version,
        "available": window is not None,
        "reason": None,
        "window_s": None,
        "rows": 0,
        "min_rows": 0,
        "reference_rows": 0,
        "score_psi": None,
        "features": [],
    }
    if window is None:
        report["reason"] = (
            "drift is off (FRAUD_DRIFT=false)"
            if not models.drift_watched
            else "the model bundle has no drift reference: retrain it with `fraud train`"
        )
        return report
    figures = window.figures()
    features: list[dict[str, Any]] = [
        {
            "feature": name,
            "psi": _number(figures.psi[i]),
            "missing_share": _number(figures.missing_share[i]),
            "reference_missing_share": float(figures.reference_missing_share[i]),
        }
        for i, name in enumerate(figures.features)
    ]
    features.sort(key=lambda f: (f["psi"] is None, -(f["psi"] or 0.0)))
    return report | {
        "window_s": figures.window_s,
        "rows": figures.rows,
        "min_rows": window.min_rows,
        "reference_rows": window.reference.rows,
        "score_psi": _number(figures.score_psi),
        "features": features,
    }


def _number(value: float) -> float | None:
    value = float(value)
    return None if math.isnan(value) else round(value, 6)
