"""POST /v1/score: declared here for the OpenAPI document, answered by app/score_endpoint.py
ahead of FastAPI (app/direct.py), with the same contract."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from fastapi.routing import APIRoute

from app.bodies import documented_body
from app.deps import AuthorizedScoring
from app.direct import DirectRoutes
from app.openapi import BODY, documented_errors, keyed
from app.schemas.score import ScoreRequest, ScoreResponse
from app.score_endpoint import PATH, ScoreEndpoint

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
async def score(service: AuthorizedScoring) -> Response:
    """Risk score, tier and decision within the request. The same `transaction_id` sent again
    with the same request by the same API key gets the same answer and is counted once in
    every window; sent with other fields, it gets 409."""
    # The declaration only (its dependency marks the operation as needing a `score` key):
    # install() gives the route ScoreEndpoint as its ASGI app, so this is never called.
    raise NotImplementedError


def install(app: DirectRoutes, access_log: bool) -> None:
    """POST /v1/score answered by ScoreEndpoint ahead of FastAPI (writing its access line
    if `access_log`); a request the router reaches anyway (under the middleware, which logs
    it) by ScoreEndpoint too."""
    route = next(r for r in app.router.routes if isinstance(r, APIRoute) and r.path == PATH)
    route.app = ScoreEndpoint(app, route, log_access=False)
    app.direct[("POST", PATH)] = ScoreEndpoint(app, route, log_access=access_log)
