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
    """The champion's version now and before; with FRAUD_CHALLENGER_MODEL_DIR, the
    challenger's version in shadow (empty if it failed to load: `challenger_error` says why;
    the champion serves without one)."""
    previous = models.bundle.version if models.bundle else None
    try:
        reloaded = await models.reload()
    except Exception as exc:
        logs.admin_action("reload", caller.key_id, outcome="failed", serving=previous)
        raise ServiceUnavailable(f"reload failed, still serving {previous}: {exc}") from exc
    logs.admin_action("reload", caller.key_id, outcome="done", **reloaded.versions)
    return {
        "model_version": reloaded.champion.version,
        "previous": previous or "",
        "challenger": reloaded.versions["challenger"] or "",
        "challenger_error": reloaded.challenger_error or "",
    }
