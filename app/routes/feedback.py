"""POST /v1/feedback: confirmed labels (chargebacks, analyst verdicts)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.bodies import documented_body, json_response, parse_body
from app.deps import DatabaseDep, LabelsDep, Reviewer, SettingsDep, StoreDep
from app.errors import Conflict, NotFound, ServiceUnavailable
from app.labels import apply_label, publish_label
from app.openapi import BODY, documented_errors, keyed
from app.schemas.history import FeedbackRequest, FeedbackResponse
from app.scoped_ids import scope_of
from features.redis_store import STORE_ERRORS
from features.store import WindowStore
from persistence.history import ConflictingFeedback, Feedback, TooManyLabels, UnknownTransaction

router = APIRouter(prefix="/v1", tags=["feedback"])


@router.post(
    "/feedback",
    response_model=FeedbackResponse,
    summary="Report a confirmed label for a scored transaction",
    openapi_extra=documented_body(FeedbackRequest),
    responses=documented_errors(
        keyed("review")
        | BODY
        | {
            404: "the transaction was never scored (or not within the retry window), or not "
            "in a scope this key sees",
            409: "this source already reported a different label or time; the transaction "
            "has labels from FRAUD_MAX_LABEL_SOURCES sources already; or the id was scored "
            "by several API keys and no `scope` was named (the detail names them)",
            503: "PostgreSQL or Redis unreachable, or the transaction was scored but its "
            "decision is not stored yet; nothing was written, retry (Retry-After)",
        }
    )
    | {201: {"description": "stored", "model": FeedbackResponse}},
)
async def feedback(
    request: Request,
    caller: Reviewer,
    db: DatabaseDep,
    store: StoreDep,
    labels: LabelsDep,
    settings: SettingsDep,
) -> Response:
    """Stored once per transaction and source (sending it again answers 200 with
    `created: false`), applied to the label windows of the transaction's card, device, IP
    and merchant (so the `*_known_fraud_*` features see it from `reported_at` on), and
    published to `transactions.labels`. The id of the key that sent it is stored with it
    (`key_id`: the first 16 hex digits of the key's SHA-256 digest). The label windows and
    the database change together: if either is unreachable, nothing is stored and the
    answer is 503. The transaction is the id within `scope`, or within the one scope this
    key sees that holds it."""
    body = await parse_body(request, FeedbackRequest)
    async with db.connection() as conn, conn.transaction():
        scope = await scope_of(conn, body.transaction_id, body.scope, caller)
        if scope is None:
            await _not_stored_yet(store, body.scope or caller.key_id, body.transaction_id)
            raise NotFound(f"transaction {body.transaction_id!r} is not in the history")
        report = Feedback(
            scope, body.transaction_id, body.label, body.source, body.reported_at, caller.key_id
        )
        try:
            stored = await apply_label(conn, store, report, settings.max_label_sources)
        except UnknownTransaction:
            raise NotFound(f"transaction {body.transaction_id!r} is not in the history") from None
        except (ConflictingFeedback, TooManyLabels) as exc:
            raise Conflict(str(exc)) from None
    publish_label(labels, report, stored)
    answer = {
        "scope": scope,
        "transaction_id": report.transaction_id,
        "label": stored.label,
        "source": report.source,
        "reported_at": stored.reported_at,
        "created": stored.created,
        "effective_label": stored.effective_label,
    }
    return json_response(answer, 201 if stored.created else 200)


async def _not_stored_yet(store: WindowStore, scope: str, transaction_id: str) -> None:
    """A label that arrives before the consumer stored its decision would be lost by a client
    that gives up on 404: a transaction that was scored in the scope named (else the
    caller's own) gets 503 and Retry-After instead."""
    try:
        scored = await store.was_recorded(scope, transaction_id)
    except STORE_ERRORS as exc:
        raise ServiceUnavailable(f"feature store unavailable: {exc!r}") from None
    if scored:
        raise ServiceUnavailable(
            f"transaction {transaction_id!r} was scored but its decision is not in the history "
            "yet; retry shortly"
        )
