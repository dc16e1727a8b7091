"""POST /v1/score as a plain ASGI handler, answered ahead of FastAPI's middleware, routing
and dependencies (app/direct.py), with their contract: the body limit (413) and its deadline
(408), the API key and its `score` scope (401, 403), the rate limit (429), JSON only
(415), the body validated by the same model (422 naming the field, or the key that
repeats), event time (422), idempotency (409), the audit log (503), the access line and
the security lines, the same metrics. tests/score_contract.py holds every answer and
refusal to the bytes FastAPI's route sent. app/routes/score.py still declares the route,
for the OpenAPI document, and a request the router does reach is routed here too.

Refusals are rare: they are built by the functions FastAPI's handlers call (app/errors.py,
app/limits.py). An answer is the decision's bytes, sent as they are.
"""

from __future__ import annotations

import asyncio
import time

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.requests import ClientDisconnect
from starlette.routing import BaseRoute
from starlette.types import Receive, Scope, Send

from app import access_log, auth, errors
from app.bodies import require_json, validated
from app.deps import admit
from app.limits import too_large, too_slow
from app.logs import KEY_ID
from app.schemas.score import ScoreRequest
from scoring.event_time import EventTimeRefused
from scoring.service import AuditUnavailable, IdempotencyConflict

PATH = "/v1/score"
_JSON = (b"content-type", b"application/json")


class ScoreEndpoint:
    """`log_access`: write the access line (not where a middleware around it does)."""

    def __init__(self, app: FastAPI, route: BaseRoute, *, log_access: bool) -> None:
        self.app = app
        self.route = route
        self.log_access = log_access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        status = 500  # what the server sends if this fails before answering
        try:
            try:
                outcome = await self._decide(scope, receive)
            except Exception:
                # As Starlette's ServerErrorMiddleware did: the envelope, and the error on
                # to the server, which logs it.
                await errors.internal_response()(scope, receive, send)
                raise
            if isinstance(outcome, Response):
                status = outcome.status_code
                await outcome(scope, receive, send)
            else:
                status = 200
                headers = [(b"content-length", b"%d" % len(outcome)), _JSON]
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await send({"type": "http.response.body", "body": outcome})
        finally:
            if self.log_access:
                latency_ms = round((time.perf_counter() - started) * 1000, 3)
                # A body refused by its declared length is refused before routing.
                path = PATH if "route" in scope else "<unmatched>"
                access_log.write(scope["method"], path, status, scope.get(KEY_ID), latency_ms)

    async def _decide(self, scope: Scope, receive: Receive) -> bytes | Response:
        """The answer's bytes, or the refusal."""
        state = self.app.state
        settings = state.settings
        deadline = asyncio.get_running_loop().time() + settings.body_timeout_s
        authorization = api_key = content_type = b""
        for name, value in scope["headers"]:  # names in lower case (ASGI); the first counts
            if name == b"content-length":
                if value.isdigit() and int(value) > settings.max_body_bytes:
                    return too_large(settings.max_body_bytes)
            elif name == b"authorization":
                authorization = authorization or value
            elif name == b"x-api-key":
                api_key = api_key or value
            elif name == b"content-type":
                content_type = content_type or value
        scope["route"] = self.route  # for the logs' path template
        try:
            key = auth.presented(authorization.decode("latin-1"), api_key.decode("latin-1"))
            caller = admit(state, scope, key, "score")
            received = time.perf_counter_ns()
            require_json(content_type.decode("latin-1"))
            body = await _body(receive, settings.max_body_bytes, deadline)
            transaction = validated(body, ScoreRequest).to_transaction()
            decision = await state.service.score(transaction, received, caller.key_id)
        except errors.ApiError as exc:
            return errors.api_error_response(scope, exc)
        except RequestValidationError as exc:
            return errors.invalid_response(exc)
        except _TooLarge:
            return too_large(settings.max_body_bytes)
        except _TooSlow:
            return too_slow(settings.body_timeout_s)
        except ClientDisconnect:
            return errors.client_gone_response(scope)
        except EventTimeRefused as exc:
            timestamp = {
                "field": "timestamp",
                "message": str(exc),
                "type": "timestamp_out_of_range",
            }
            return errors.api_error_response(scope, errors.ValidationFailed([timestamp]))
        except IdempotencyConflict as exc:
            return errors.api_error_response(scope, errors.Conflict(str(exc)))
        except AuditUnavailable as exc:
            return errors.api_error_response(scope, errors.ServiceUnavailable(str(exc)))
        return decision.json


async def _body(receive: Receive, max_bytes: int, deadline: float) -> bytes:
    """The request's body: _TooLarge past `max_bytes`, _TooSlow if it has not all arrived by
    `deadline` (the loop's clock), ClientDisconnect if the client went."""
    chunks = []
    size = 0
    try:
        async with asyncio.timeout_at(deadline):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise ClientDisconnect
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > max_bytes:
                    raise _TooLarge
                chunks.append(chunk)
                if not message.get("more_body", False):
                    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
    except TimeoutError:
        raise _TooSlow from None


class _TooLarge(Exception):
    pass


class _TooSlow(Exception):
    pass
