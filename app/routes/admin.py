"""Operator endpoints."""

from __future__ import annotations

from fastapi import APIRouter

from app import logs
from app.deps import Administrator, ModelsDep
from app.errors import ServiceUnavailable
from app.openapi import documented_errors, keyed

router = APIRouter(prefix="/v1/admin", tags=["admin"])


@router.post(
    "/reload",
    summary="Load the model bundle again (also on SIGHUP) without dropping requests",
    responses=documented_errors(
        keyed("admin") | {503: "the bundle failed to load; the previous one serves"}
    ),
)
async def reload(caller: Administrator, models: ModelsDep) -> dict[str, str]:
    previous = models.bundle.version if models.bundle else None
    try:
        bundle = await models.reload()
    except Exception as exc:
        logs.admin_action("reload", caller.key_id, outcome="failed", serving=previous)
        raise ServiceUnavailable(f"reload failed, still serving {previous}: {exc}") from exc
    logs.admin_action("reload", caller.key_id, outcome="done", model_version=bundle.version)
    return {"model_version": bundle.version, "previous": previous or ""}
