"""One access-log line per HTTP request: key id, method, path template, status, latency."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.logs import KEY_ID, access, route_template


class AccessLog:
    """Outermost, so refusals by the other middleware (413) are logged too. One logging
    call per request: the scoring route is the hottest."""

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
            path = route_template(scope)
            access.info(
                "%s %s %d",
                scope["method"],
                path,
                status,
                extra={
                    "key_id": scope.get(KEY_ID),
                    "method": scope["method"],
                    "path": path,
                    "status": status,
                    "latency_ms": latency_ms,
                },
            )
