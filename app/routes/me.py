"""GET /v1/me: who the presented key is and what it may do (the console enables its views
by it)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from app.bodies import json_response
from app.deps import AnyKey
from app.openapi import documented_errors, keyed
from app.schemas.me import Me
from app.scopes import SCOPES

router = APIRouter(prefix="/v1", tags=["keys"])


@router.get(
    "/me",
    response_model=Me,
    summary="The presented API key's id and scopes",
    responses=documented_errors(
        {k: v for k, v in keyed("any").items() if k != 403}  # any known key will do
    ),
)
async def me(caller: AnyKey) -> Response:
    """The scopes include those the key's listed scopes imply (`review` implies `read`,
    `admin` all of them), in the order score, read, review, admin."""
    return json_response(
        {"key_id": caller.key_id, "scopes": [s for s in SCOPES if s in caller.scopes]}
    )
