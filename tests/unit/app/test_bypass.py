"""Bypass: the listed paths skip one middleware; every other path still goes through it."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from fastapi.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from app.bypass import bypass

SEEN: list[str] = []


class Recording:
    def __init__(self, app: ASGIApp, label: str) -> None:
        self.app, self.label = app, label

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            SEEN.append(f"{self.label}:{scope['path']}")
        await self.app(scope, receive, send)


def app_with_recording() -> FastAPI:
    app = FastAPI()

    @app.get("/hot")
    async def hot() -> PlainTextResponse:
        return PlainTextResponse("hot")

    @app.get("/other")
    async def other() -> PlainTextResponse:
        return PlainTextResponse("other")

    app.add_middleware(Recording, label="metrics")
    return app


def test_listed_paths_skip_the_middleware_and_others_do_not() -> None:
    app = app_with_recording()
    bypass(app, Recording, ["/hot"])
    SEEN.clear()
    with TestClient(app) as client:
        assert client.get("/hot").text == "hot"
        assert client.get("/other").text == "other"
    assert SEEN == ["metrics:/other"]


def test_a_middleware_that_is_not_installed_is_an_error() -> None:
    class Absent:
        def __init__(self, app: ASGIApp, **_: Any) -> None:
            self.app = app

    with pytest.raises(ValueError, match="Absent is not installed"):
        bypass(app_with_recording(), Absent, ["/hot"])
