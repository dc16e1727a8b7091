"""One access-log line per HTTP request: key id, method, path template, status, latency.

Under the logging configuration `fraud serve` applies (app/logs.py: one stream handler on
the root logger, JSON or text lines), a line is written straight to that handler's stream,
in the bytes its formatter would write: building a LogRecord, passing it through the
logger tree and python-json-logger's formatting cost more than the rest of the line's work
(docs/performance.md). Under any other configuration (a test capturing logs, a handler an
operator added, the access logger turned down), it goes through `logging` as any line.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.logs import KEY_ID, JsonLines, TextLines, access, route_template

_TIME_FORMAT = logging.Formatter.default_time_format  # what formatTime writes before ",msecs"


def write(method: str, path: str, status: int, key_id: str | None, latency_ms: float) -> None:
    direct = _direct_handler()
    if direct is None:
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
        return
    handler, json_lines = direct
    now = time.time()
    stamp = _asctime(now)
    if json_lines:
        line = orjson.dumps(
            {
                "time": stamp,
                "level": "INFO",
                "logger": "fraud.access",
                "message": f"{method} {path} {status}",
                "key_id": key_id,
                "method": method,
                "path": path,
                "status": status,
                "latency_ms": latency_ms,
            }
        ).decode()
    else:
        line = f"{stamp} INFO fraud.access {method} {path} {status}"
    handler.acquire()
    try:
        handler.stream.write(line + handler.terminator)
        handler.flush()
    finally:
        handler.release()


def _direct_handler() -> tuple[logging.StreamHandler[Any], bool] | None:
    """The handler an INFO line of `fraud.access` reaches and nothing else, with whether it
    writes JSON lines; None unless that is one of app/logs.py's stream handlers."""
    if (
        access.handlers
        or access.filters
        or access.disabled
        or not access.propagate
        or access.parent is not logging.root
        or not access.isEnabledFor(logging.INFO)
    ):
        return None
    handlers = logging.root.handlers
    if len(handlers) != 1:
        return None
    handler = handlers[0]
    if (
        type(handler) is not logging.StreamHandler
        or handler.filters
        or handler.level > logging.INFO
    ):
        return None
    kind = type(handler.formatter)
    if kind is JsonLines:
        return handler, True
    if kind is TextLines:
        return handler, False
    return None


_second = -1
_second_text = ""


def _asctime(now: float) -> str:
    """logging.Formatter.formatTime's text for a record created at `now` (local time,
    milliseconds after a comma); the seconds' part is formatted once a second."""
    global _second, _second_text
    whole = int(now)
    if whole != _second:
        _second_text = time.strftime(_TIME_FORMAT, time.localtime(now))
        _second = whole
    return f"{_second_text},{int((now - whole) * 1000):03d}"


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
