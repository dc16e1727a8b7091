"""/dashboard/: the operations console's production build (frontend/dist, `make console`),
served as static files when it is built. Not part of the OpenAPI document."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from app.errors import NotFound

PATH = "/dashboard"
# Vite names everything under assets/ by its content's hash: a name never changes content.
IMMUTABLE = "public, max-age=31536000, immutable"
# index.html (and anything else at the build's root) names the current assets: revalidate.
REVALIDATE = "no-cache"
# The console loads only its own scripts and styles, and talks to this API (its WebSocket
# included); React's and uPlot's style properties go through the CSSOM, which style-src
# does not restrict, so no 'unsafe-inline' is needed. Vite inlines small images and fonts
# as data: URIs.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self' ws: wss:; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class ConsoleBuild(StaticFiles):
    """The build directory, looked at on every request: a console built (or removed) while
    the API runs is served (or not) without a restart."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory=directory, html=True, check_dir=False)
        self.root = directory

    async def check_config(self) -> None:
        """The directory may not exist yet: get_response says so with a 404."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        if not (self.root / "index.html").is_file():
            raise NotFound(
                f"the console is not built: run `make console` (looked in {self.root}, "
                "FRAUD_CONSOLE_DIR)"
            )
        try:
            return await super().get_response(path, scope)
        except HTTPException as exc:
            if exc.status_code == 404:
                raise NotFound(f"no file {path!r} in the console's build") from None
            raise

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        assets = self.get_path(scope).replace("\\", "/").startswith("assets/")
        response.headers["Cache-Control"] = IMMUTABLE if assets else REVALIDATE
        response.headers.update(SECURITY_HEADERS)
        return response


async def _with_slash(request: Request) -> Response:
    return RedirectResponse(f"{request.scope.get('root_path', '')}{PATH}/", status_code=308)


def install(app: FastAPI, directory: Path) -> None:
    """/dashboard redirects to /dashboard/, which serves `directory`'s index.html."""
    app.router.routes.append(Route(PATH, _with_slash, methods=["GET", "HEAD"]))
    app.router.routes.append(Mount(PATH, app=ConsoleBuild(directory), name="console"))
