"""POST /v1/score."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.bodies import documented_body, parse_body
from app.deps import AuthorizedScoring
from app.errors import Conflict, ServiceUnavailable, ValidationFailed
from app.logs import KEY_ID
from app.openapi import BODY, documented_errors, keyed
from app.schemas.score import ScoreRequest, ScoreResponse
from scoring.event_time import EventTimeRefused
from scoring.service import AuditUnavailable, IdempotencyConflict

router = APIRouter(prefix="/v1", tags=["scoring"])


@router.post(
    "/score",
    response_model=ScoreResponse,
    summary="Score a card transaction before authorisation",
    openapi_extra=documented_body(ScoreRequest),
    responses=documented_errors(
        keyed("score")
        | BODY
        | {
            409: "this API key already sent this `transaction_id` with other fields; "
            "nothing was written",
            422: "a field breaks the contract, or (live event time) `timestamp` is too far "
            "from the server's clock; nothing was written",
            503: "the decision could not be written to the audit log (`log` durability): "
            "it is not answered; the same request may be sent again",
        }
    ),
)
async def score(request: Request, service: AuthorizedScoring) -> Response:
    """Risk score, tier and decision within the request. The same `transaction_id` sent again
    with the same request by the same API key gets the same answer and is counted once in
    every window; sent with other fields, it gets 409."""
    received = time.perf_counter_ns()
    body = await parse_body(request, ScoreRequest)
    scope = request.scope[KEY_ID]  # left by the key check (app.auth.authorize)
    try:
        decision = await service.score(body.to_transaction(), received, scope)
    except EventTimeRefused as exc:
        raise ValidationFailed(
            [{"field": "timestamp", "message": str(exc), "type": "timestamp_out_of_range"}]
        ) from None
    except IdempotencyConflict as exc:
        raise Conflict(str(exc)) from None
    except AuditUnavailable as exc:
        raise ServiceUnavailable(str(exc)) from None
    return Response(decision.json, media_type="application/json")
