"""A middleware that some paths skip, going straight to the app it wraps."""

from __future__ import annotations

from collections.abc import Collection

from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send


class Bypass:
    def __init__(self, app: ASGIApp, *, paths: frozenset[str], middleware: Middleware) -> None:
        cls, args, kwargs = middleware
        self.direct = app
        self.wrapped = cls(app, *args, **kwargs)
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("path") in self.paths:
            await self.direct(scope, receive, send)
        else:
            await self.wrapped(scope, receive, send)


def bypass(app: FastAPI, middleware: type, paths: Collection[str]) -> None:
    """Let requests for `paths` (exact) skip an installed middleware of class `middleware`."""
    for i, entry in enumerate(app.user_middleware):
        if entry.cls is middleware:
            app.user_middleware[i] = Middleware(Bypass, paths=frozenset(paths), middleware=entry)
            return
    raise ValueError(f"{middleware.__name__} is not installed")
