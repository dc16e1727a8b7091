"""WS /v1/stream: live decisions and one-second aggregates for dashboards."""

from __future__ import annotations

import asyncio
from contextlib import suppress

import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from app import auth, logs
from app.errors import Forbidden, Unauthorized

router = APIRouter(prefix="/v1", tags=["stream"])


@router.websocket("/stream")
async def stream(websocket: WebSocket) -> None:
    """Messages (JSON text): `hello` once the feed is live, then `decision` for every
    decision of every API process (with its `decision_source`, the `rules` that matched and
    the `model_version`), `aggregate` each second (count, tiers, decisions, degraded,
    p50/p99 latency, and per currency the amount at risk, declined and sent to review), and
    `dropped` when this client fell behind and lost that many of its oldest messages. Authenticate with a key holding the
    `read` scope as `Authorization: Bearer`, `X-API-Key` or, for browsers, the `api_key`
    query parameter. Each decision names its `scope` (the id of the key that scored it); a
    key that also scores (and is not an admin) gets only its own scope's decisions."""
    state = websocket.app.state
    key = auth.presented_key(websocket) or websocket.query_params.get("api_key")
    try:
        caller = auth.authorize(websocket.scope, key, state.settings.key_scopes, "read")
    except (Unauthorized, Forbidden) as exc:
        logs.refused(websocket.scope, exc.status_code, exc.error, exc.detail)
        await websocket.close(code=1008, reason=str(exc.detail))
        return
    if state.feed is None:
        await websocket.close(
            code=1011, reason="no audit topic: FRAUD_KAFKA_BOOTSTRAP_SERVERS is empty"
        )
        return
    await websocket.accept()
    state.feed.ensure_started()
    client = state.hub.join(caller.sees.own)
    receiving = asyncio.create_task(_until_closed(websocket))
    try:
        await state.feed.ready.wait()
        await websocket.send_text(
            orjson.dumps({"type": "hello", "topic": state.feed.topic}).decode()
        )
        while not receiving.done():
            waking = asyncio.create_task(client.wake.wait())
            await asyncio.wait({waking, receiving}, return_when=asyncio.FIRST_COMPLETED)
            waking.cancel()
            for message in client.take():
                await websocket.send_text(message.decode())
    except WebSocketDisconnect:
        pass
    finally:
        receiving.cancel()
        state.hub.leave(client)


async def _until_closed(websocket: WebSocket) -> None:
    """Reads (and ignores) what the client sends, so a close is noticed."""
    with suppress(WebSocketDisconnect):
        while True:
            await websocket.receive_text()
