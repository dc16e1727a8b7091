"""Operator endpoints."""

from __future__ import annotations

from fastapi import APIRouter

from app.deps import AdminKey, ModelsDep
from app.errors import ServiceUnavailable
from app.openapi import AUTH, documented_errors

router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[AdminKey])


@router.post(
    "/reload",
    summary="Load the model bundle again (also on SIGHUP) without dropping requests",
    responses=documented_errors(AUTH | {503: "the bundle failed to load; the previous one serves"}),
)
async def reload(models: ModelsDep) -> dict[str, str]:
    previous = models.bundle.version if models.bundle else None
    try:
        bundle = await models.reload()
    except Exception as exc:
        raise ServiceUnavailable(f"reload failed, still serving {previous}: {exc}") from exc
    return {"model_version": bundle.version, "previous": previous or ""}
