"""Bound what one request may cost before the application has it: bodies larger than
`FRAUD_MAX_BODY_BYTES` get 413 before they are read into memory, and a body that has not
arrived `FRAUD_BODY_TIMEOUT_S` after its headers gets 408 (a client trickling a byte a
second would otherwise hold its request, and a file descriptor, for ever). The headers'
own deadline is the HTTP protocol's (app/connections.py)."""

from __future__ import annotations

import asyncio

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import error_response


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int, timeout_s: float = 10.0) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await too_large(self.max_bytes)(scope, receive, send)
                return
        seen = 0
        started = False
        complete = False  # the whole body has arrived: later receives wait for a disconnect
        deadline = asyncio.get_running_loop().time() + self.timeout_s

        async def limited() -> Message:
            nonlocal seen, complete
            if complete:
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise _TooSlow from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
                complete = not message.get("more_body", False)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, tracking_send)
        except _TooLarge:
            if not started:
                await too_large(self.max_bytes)(scope, receive, send)
        except _TooSlow:
            if not started:
                await too_slow(self.timeout_s)(scope, receive, send)


def too_large(max_bytes: int) -> Response:
    return error_response(
        413, "payload_too_large", f"request bodies are limited to {max_bytes} bytes"
    )


def too_slow(timeout_s: float) -> Response:
    detail = f"the request body did not arrive within {timeout_s:g} s"
    return error_response(408, "request_timeout", detail, {"Connection": "close"})


class _TooLarge(Exception):
    pass


class _TooSlow(Exception):
    pass
