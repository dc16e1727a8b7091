"""GET /docs (Swagger UI) and /redoc from assets this server serves itself, so they work
without reaching a CDN (the `fastapi-offline` wheel ships them)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

from app.errors import NotFound

ASSET_DIR = Path(str(files("fastapi_offline") / "static"))
ASSETS = frozenset({"swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png"})
ASSET_PATH = "/docs/assets"
TITLE = "fraud-engine"

router = APIRouter(include_in_schema=False)


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return get_swagger_ui_html(
        openapi_url=f"{root}/openapi.json",
        title=f"{TITLE} - Swagger UI",
        swagger_js_url=f"{root}{ASSET_PATH}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{ASSET_PATH}/swagger-ui.css",
        swagger_favicon_url=f"{root}{ASSET_PATH}/favicon.png",
        # Swagger UI would otherwise send the document to validator.swagger.io for a badge.
        swagger_ui_parameters={"validatorUrl": None},
    )


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return get_redoc_html(
        openapi_url=f"{root}/openapi.json",
        title=f"{TITLE} - ReDoc",
        redoc_js_url=f"{root}{ASSET_PATH}/redoc.standalone.js",
        redoc_favicon_url=f"{root}{ASSET_PATH}/favicon.png",
        with_google_fonts=False,
    )


@router.get(ASSET_PATH + "/{name}")
async def asset(name: str) -> FileResponse:
    if name not in ASSETS:
        raise NotFound(f"no asset {name!r}")
    return FileResponse(ASSET_DIR / name, headers={"Cache-Control": "public, max-age=86400"})
