"""Domain errors and the one place that renders them.

    ApiError (status_code, error)
    ├── Unauthorized          401  missing or unknown API key
    ├── Forbidden             403  the key lacks the scope the route needs
    ├── NotFound              404  no such transaction in the history, no such case
    ├── Conflict              409  feedback contradicting what the same source reported,
    │   │                          work on a closed case
    │   └── Ambiguous         409  a transaction id scored by several API keys, looked up
    │                              without naming its scope
    ├── PayloadTooLarge       413  body over FRAUD_MAX_BODY_BYTES
    ├── UnsupportedMediaType  415  a body not sent as application/json
    ├── ValidationFailed      422  a field breaks the contract (rendered from pydantic)
    ├── TooManyRequests       429  the key is over its rate limit (Retry-After)
    ├── ServiceUnavailable    503  model not loaded, PostgreSQL / Redis unreachable, or the
    │                              audit log not writable (a decision is never answered unrecorded)
    └── TimedOut              504  a bounded operation (a backtest) ran past its time

Every error body is {"error": <code>, "detail": <message or list of {field, message, type}>},
Starlette's own 404 (no such route) and 405 (method not allowed) included.
"""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.types import Scope

from app import logs, metrics
from persistence.database import DatabaseUnavailable

# Sent with every 503: the condition is expected to pass within a second or so.
RETRY_SOON = {"Retry-After": "1"}


class ApiError(Exception):
    status_code = 500
    error = "internal_error"

    def __init__(self, detail: Any = None) -> None:
        super().__init__(detail)
        self.detail = detail


class Unauthorized(ApiError):
    status_code = 401
    error = "unauthorized"


class Forbidden(ApiError):
    status_code = 403
    error = "forbidden"


class NotFound(ApiError):
    status_code = 404
    error = "not_found"


class Conflict(ApiError):
    status_code = 409
    error = "conflict"


class Ambiguous(Conflict):
    error = "ambiguous_transaction_id"


class ValidationFailed(ApiError):
    """Detail: a list of {field, message, type}, as pydantic's errors are rendered."""

    status_code = 422
    error = "validation_error"


class PayloadTooLarge(ApiError):
    status_code = 413
    error = "payload_too_large"


class UnsupportedMediaType(ApiError):
    status_code = 415
    error = "unsupported_media_type"


class TooManyRequests(ApiError):
    status_code = 429
    error = "rate_limited"

    def __init__(self, detail: str, retry_after_s: int) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


class ServiceUnavailable(ApiError):
    status_code = 503
    error = "unavailable"


class TimedOut(ApiError):
    status_code = 504
    error = "timed_out"


def error_response(
    status: int, error: str, detail: Any, headers: dict[str, str] | None = None
) -> Response:
    """A refusal (counted in fraud_refused_total) with the error envelope."""
    metrics.REFUSED.labels(str(status)).inc()
    return json_error(status, error, detail, headers)


def json_error(
    status: int, error: str, detail: Any, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps({"error": error, "detail": detail}),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def field_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """pydantic's errors as {field, message, type}: the field's dotted path ("body" for the
    whole body)."""
    out = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p != "body"]
        out.append(
            {
                "field": ".".join(loc) or "body",
                "message": err.get("msg", ""),
                "type": err.get("type", ""),
            }
        )
    return out


def api_error_response(scope: Scope, exc: ApiError) -> Response:
    """The answer to a domain error; refusals of a key (401, 403, 429) also get a security
    line."""
    if isinstance(exc, Unauthorized | Forbidden | TooManyRequests):
        logs.refused(scope, exc.status_code, exc.error, exc.detail)
    headers = (
        {"WWW-Authenticate": "Bearer"}
        if isinstance(exc, Unauthorized)
        else {"Retry-After": str(exc.retry_after_s)}
        if isinstance(exc, TooManyRequests)
        else RETRY_SOON
        if isinstance(exc, ServiceUnavailable)
        else None
    )
    return error_response(exc.status_code, exc.error, exc.detail, headers)


def invalid_response(exc: RequestValidationError) -> Response:
    return error_response(422, "validation_error", field_errors(exc.errors()))


def internal_response() -> Response:
    # The same envelope as every other error (Starlette would send plain text); the
    # exception is still raised on to the server, which logs it.
    return json_error(500, "internal_error", "the request failed inside the service")


def client_gone_response(scope: Scope) -> Response:
    """Not a failure of the service: one short line instead of a traceback. The answer goes
    nowhere (the server drops what is sent to a closed connection)."""
    logs.access.info(
        "client disconnected before the end of its request",
        extra={"event": "client_disconnect", "path": logs.route_template(scope)},
    )
    return json_error(400, "client_disconnected", "the client closed the connection")


def install(app: FastAPI) -> None:
    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return api_error_response(request.scope, exc)

    async def invalid(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return invalid_response(exc)

    async def routing(request: Request, exc: Exception) -> Response:
        # Raised by Starlette's router (no route, wrong method) with its plain {"detail"}.
        assert isinstance(exc, HTTPException)
        status = HTTPStatus(exc.status_code)
        detail = (
            "no such route"
            if status == HTTPStatus.NOT_FOUND
            else f"{request.method} is not allowed here"
            if status == HTTPStatus.METHOD_NOT_ALLOWED
            else exc.detail
        )
        code = status.phrase.lower().replace(" ", "_")
        return error_response(exc.status_code, code, detail, dict(exc.headers or {}))

    async def no_database(_: Request, exc: Exception) -> Response:
        return error_response(503, "unavailable", str(exc), RETRY_SOON)

    async def internal(_: Request, exc: Exception) -> Response:
        return internal_response()

    async def client_gone(request: Request, exc: Exception) -> Response:
        return client_gone_response(request.scope)

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(ClientDisconnect, client_gone)
    app.add_exception_handler(DatabaseUnavailable, no_database)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(HTTPException, routing)
    app.add_exception_handler(Exception, internal)
