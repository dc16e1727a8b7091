"""One access-log line per HTTP request: key id, method, path template, status, latency."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.logs import KEY_ID, access, route_template


def write(method: str, path: str, status: int, key_id: str | None, latency_ms: float) -> None:
    access.info(
        "%s %s %d",
        method,
        path,
        status,
        extra={
            "key_id": key_id,
            "method": method,
            "path": path,
            "status": status,
            "latency_ms": latency_ms,
        },
    )


class AccessLog:
    """Outermost, so refusals by the other middleware (413) are logged too. POST /v1/score,
    answered ahead of this middleware (app/score_endpoint.py), writes its own line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server sends if the app fails before answering

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            latency_ms = round((time.perf_counter() - started) * 1000, 3)
            write(scope["method"], route_template(scope), status, scope.get(KEY_ID), latency_ms)
