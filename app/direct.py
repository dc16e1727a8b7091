"""A FastAPI app some of whose routes are answered directly, by plain ASGI handlers, ahead
of its middleware, routing and dependency solving: for the hottest route (POST /v1/score,
app/score_endpoint.py), those layers cost more than the handler's own work
(docs/performance.md). Each direct handler keeps its route's contract itself; the route
stays declared in FastAPI for the OpenAPI document."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send


class DirectRoutes(FastAPI):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # (method, path) -> the handler answering it; the path as the router matches it
        # (below the root path).
        self.direct: dict[tuple[str, str], ASGIApp] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            root = scope.get("root_path")
            if root and path.startswith(root):
                path = path[len(root) :]
            handler = self.direct.get((scope["method"], path))
            if handler is not None:
                scope["app"] = self
                await handler(scope, receive, send)
                return
        await super().__call__(scope, receive, send)
