"""The HTTP protocol `fraud serve` runs: uvicorn's httptools protocol with the limits it
lacks. uvicorn closes an idle keep-alive connection, but nothing bounds a connection
that never finishes its headers: a client that sends half a request, or one byte every
few seconds, holds a socket and a file descriptor for as long as it likes. Here:

- each request's headers must arrive within `FRAUD_HEADER_TIMEOUT_S` of its first
  byte (or of the connection, for the first request): else 408 and the connection closed;
- the headers may hold at most `FRAUD_MAX_HEADER_BYTES`: else 431 and closed (counted up
  to the blank line that ends them: a body arriving in the same read is not headers);
- at most `FRAUD_LIMIT_CONCURRENCY` connections are open at once: one more is answered
  503 and closed at once (uvicorn's own limit only counts connections whose headers
  are complete).

The body's own deadline is the ASGI middleware's (app/limits.py): by then the request
belongs to the application. uvicorn imports this class by name in every worker
process (`http="app.connections:GuardedHttpTools"`), so its limits come from the
settings, read once per process.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import cache

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.settings import get_settings


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    header_timeout_s: float
    max_header_bytes: int
    max_connections: int


@cache
def limits() -> ConnectionLimits:
    settings = get_settings()
    return ConnectionLimits(
        header_timeout_s=settings.header_timeout_s,
        max_header_bytes=settings.max_header_bytes,
        max_connections=settings.limit_concurrency,
    )


def plain_response(status: int, reason: str, error: str, detail: str) -> bytes:
    """A complete JSON error answer in the API's envelope, written before any ASGI app
    has the request (so the connection is closed after it)."""
    body = f'{{"error":"{error}","detail":"{detail}"}}'.encode()
    return (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    ).encode() + body


TOO_MANY_CONNECTIONS = plain_response(
    503, "Service Unavailable", "unavailable", "too many open connections; retry later"
)
HEADERS_TOO_SLOW = plain_response(
    408, "Request Timeout", "request_timeout", "the request headers took too long"
)
HEADERS_TOO_LARGE = plain_response(
    431,
    "Request Header Fields Too Large",
    "headers_too_large",
    "the request headers are too large",
)


# The blank line that ends a request's headers: llhttp (httptools) takes no other (a bare
# LF is a parse error), so counting up to it leaves no header byte uncounted.
HEADERS_END = b"\r\n\r\n"


class GuardedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header deadline, a header size cap and a cap
    on open connections (see the module's docstring)."""

    _header_timer: asyncio.TimerHandle | None = None
    _header_bytes: int = 0  # bytes received since the request began, while in its headers
    _in_headers: bool = True
    _header_tail: bytes = b""  # the last bytes of the headers so far: a blank line may span reads

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > limits().max_connections:
            self._refuse(TOO_MANY_CONNECTIONS)
            return
        self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_headers:
            self._header_bytes += self._header_part(data)
            if self._header_bytes > limits().max_header_bytes:
                self._refuse(HEADERS_TOO_LARGE)
                return
        super().data_received(data)

    def _header_part(self, data: bytes) -> int:
        """How many of `data`'s bytes are headers: up to the blank line that ends them (it
        may begin in the previous read). What follows is the body, arriving in the same read
        (a small request sent in one write): the body's bound is FRAUD_MAX_BODY_BYTES."""
        seen = self._header_tail + data
        end = seen.find(HEADERS_END)
        if end < 0:
            self._header_tail = seen[-3:]
            return len(data)
        self._header_tail = b""
        return max(0, end + len(HEADERS_END) - (len(seen) - len(data)))

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_headers = True
        if self._header_timer is None:  # a later request on a kept-alive connection
            self._header_bytes = 0
            self._header_tail = b""
            self._arm_header_deadline()

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._header_bytes = 0
        self._header_tail = b""
        self._disarm_header_deadline()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        # Bytes already received may begin the next request: count them from here.
        self._in_headers = True

    def _arm_header_deadline(self) -> None:
        self._header_timer = self.loop.call_later(
            limits().header_timeout_s, self._refuse, HEADERS_TOO_SLOW
        )

    def _disarm_header_deadline(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _refuse(self, answer: bytes) -> None:
        self._disarm_header_deadline()
        if self.transport is None or self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:  # not inside another answer
            self.transport.write(answer)
        self.transport.close()
