"""POST /v1/score."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.bodies import documented_body, parse_body
from app.deps import AuthorizedScoring
from app.openapi import BODY, documented_errors, keyed
from app.schemas.score import ScoreRequest, ScoreResponse

router = APIRouter(prefix="/v1", tags=["scoring"])


@router.post(
    "/score",
    response_model=ScoreResponse,
    summary="Score a card transaction before authorisation",
    openapi_extra=documented_body(ScoreRequest),
    responses=documented_errors(keyed("score") | BODY),
)
async def score(request: Request, service: AuthorizedScoring) -> Response:
    """Risk score, tier and decision within the request. The same `transaction_id` sent again
    gets the same answer and is counted once in every window."""
    received = time.perf_counter_ns()
    body = await parse_body(request, ScoreRequest)
    decision = await service.score(body.to_transaction(), received)
    return Response(decision.json, media_type="application/json")
