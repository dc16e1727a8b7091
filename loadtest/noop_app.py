"""The benchmark's baselines: the no-op (the same body parsing, validation, auth and limits
as POST /v1/score, and nothing else: no Redis, no features, no model), and a plain FastAPI
endpoint as anyone would write it (the same pydantic model as a body parameter, a constant
answer, no auth), and the floor of any Python endpoint on uvicorn: a bare ASGI callable that
parses the body with orjson and sends a constant (no framework, no validation)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response

from app import auth, errors
from app.bodies import parse_body
from app.limits import BodySizeLimit
from app.schemas.score import ScoreRequest
from app.settings import get_settings


def create_noop_app() -> FastAPI:
    settings = get_settings()
    app = FastAPI(title="no-op baseline")
    errors.install(app)

    async def api_key(request: Request) -> None:
        auth.authorize(request.scope, auth.presented_key(request), settings.key_scopes, "score")

    @app.post("/v1/score", dependencies=[Depends(api_key)])
    async def noop(request: Request) -> Response:
        body = await parse_body(request, ScoreRequest)
        return Response(
            orjson.dumps({"transaction_id": body.transaction_id, "score": 0.0, "risk_tier": "low"}),
            media_type="application/json",
        )

    @app.get("/readyz")
    async def ready() -> dict[str, str]:
        return {"status": "ready"}

    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    return app


def create_plain_app() -> FastAPI:
    app = FastAPI(title="plain FastAPI baseline")

    @app.post("/v1/score")
    async def plain(body: ScoreRequest) -> dict[str, object]:
        return {"transaction_id": body.transaction_id, "score": 0.0, "risk_tier": "low"}

    @app.get("/readyz")
    async def ready() -> dict[str, str]:
        return {"status": "ready"}

    return app


ANSWER = orjson.dumps({"transaction_id": "", "score": 0.0, "risk_tier": "low"})
HEAD = [(b"content-type", b"application/json"), (b"content-length", str(len(ANSWER)).encode())]


def create_raw_app() -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if scope["path"] == "/v1/score":
            orjson.loads(body)
        await send({"type": "http.response.start", "status": 200, "headers": HEAD})
        await send({"type": "http.response.body", "body": ANSWER})

    return app
