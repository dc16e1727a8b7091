"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import Response

from app.deps import ModelsDep, SettingsDep, StoreDep
from app.errors import error_response
from app.openapi import documented_errors

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Redis reachable and a model loaded",
    response_model=None,
    responses=documented_errors({503: "not ready: `detail` holds each check"}),
)
async def readyz(
    models: ModelsDep, store: StoreDep, settings: SettingsDep
) -> Response | dict[str, object]:
    try:
        redis_ok = await asyncio.wait_for(store.ping(), settings.redis_budget_ms / 1000 * 4)
    except Exception:
        redis_ok = False
    checks = {"redis": redis_ok, "model": models.ready}
    if not all(checks.values()):
        return error_response(503, "not_ready", checks)
    assert models.bundle is not None
    return {"status": "ready", "model_version": models.bundle.version, **checks}
