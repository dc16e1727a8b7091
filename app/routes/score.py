"""POST /v1/score."""

from __future__ import annotations

import time

from fastapi import APIRouter
from fastapi.responses import Response

from app.deps import ApiKey, ServiceDep
from app.schemas import ScoreRequest, ScoreResponse

router = APIRouter(prefix="/v1", tags=["scoring"])


@router.post(
    "/score",
    response_model=ScoreResponse,
    dependencies=[ApiKey],
    summary="Score a card transaction before authorisation",
    responses={
        401: {"description": "missing or unknown API key"},
        413: {"description": "body too large"},
        422: {"description": "a field breaks the contract; nothing was written"},
    },
)
async def score(body: ScoreRequest, service: ServiceDep) -> Response:
    """Risk score, tier and decision within the request. The same `transaction_id` sent again
    gets the same answer and is counted once in every window."""
    received = time.perf_counter_ns()
    return Response(await service.score(body, received), media_type="application/json")
