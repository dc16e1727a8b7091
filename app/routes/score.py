"""POST /v1/score."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.bodies import documented_body, parse_body
from app.deps import AuthorizedScoring
from app.schemas.score import ScoreRequest, ScoreResponse

router = APIRouter(prefix="/v1", tags=["scoring"])


@router.post(
    "/score",
    response_model=ScoreResponse,
    summary="Score a card transaction before authorisation",
    openapi_extra=documented_body(ScoreRequest),
    responses={
        401: {"description": "missing or unknown API key"},
        403: {"description": "the key lacks the `score` scope"},
        429: {"description": "the key is over its rate limit (Retry-After)"},
        413: {"description": "body too large"},
        422: {"description": "a field breaks the contract; nothing was written"},
    },
)
async def score(request: Request, service: AuthorizedScoring) -> Response:
    """Risk score, tier and decision within the request. The same `transaction_id` sent again
    gets the same answer and is counted once in every window."""
    received = time.perf_counter_ns()
    body = await parse_body(request, ScoreRequest)
    decision = await service.score(body.to_transaction(), received)
    return Response(decision.json, media_type="application/json")
