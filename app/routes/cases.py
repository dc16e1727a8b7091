"""The review queue: /v1/cases (list, one case, assign, resolve)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from app import logs, metrics
from app.bodies import documented_body, json_response, parse_body
from app.deps import (
    DatabaseDep,
    LabelsDep,
    ListStoreDep,
    ReadCaller,
    ReadKey,
    Reviewer,
    StoreDep,
)
from app.errors import Conflict, NotFound, ValidationFailed
from app.openapi import BODY, documented_errors, keyed
from app.review import CardBlock, Resolution, resolve_case
from app.routes.paging import Limit, PageCursor, bad_cursor
from app.schemas.cases import (
    AssignRequest,
    Case,
    CaseDetail,
    CaseId,
    CasePage,
    ResolveRequest,
    ResolveResponse,
    Status,
)
from app.schemas.fields import Identifier
from persistence.cases import (
    BadCursor,
    CaseClosed,
    CaseFilter,
    UnknownCase,
    assign_case,
    count_cases,
    decode_cursor,
    get_case,
    list_cases,
)
from persistence.history import ConflictingFeedback
from persistence.lists import InvalidListEntry
from vocabulary import Tier

router = APIRouter(prefix="/v1", tags=["cases"])
UNAVAILABLE = {503: "PostgreSQL unreachable"}
PATH_ID = Path(description="The case's id (decimal digits)", examples=["42"])
NO_CASE = {404: "no such case", 422: "not a case id (or a bad body)"}


@router.get(
    "/cases",
    response_model=CasePage,
    summary="Review cases, the open queue oldest first, with keyset pagination",
    dependencies=[ReadKey],
    responses=documented_errors(keyed("read") | UNAVAILABLE | {422: "a bad filter or cursor"}),
)
async def list_review_cases(
    db: DatabaseDep,
    status: Annotated[
        Status | None, Query(description="default: open and assigned together")
    ] = None,
    assignee: Annotated[Identifier | None, Query()] = None,
    risk_tier: Annotated[Tier | None, Query(description="the case's (highest) tier")] = None,
    limit: Limit = 50,
    cursor: PageCursor = None,
) -> Response:
    """Open and assigned cases come oldest opened first (the queue's order), closed ones
    most recently resolved first."""
    try:
        after = decode_cursor(cursor, CaseFilter(status).order) if cursor else None
    except BadCursor as exc:
        raise bad_cursor(exc) from None
    where = CaseFilter(status, assignee, risk_tier, after, limit)
    async with db.connection() as conn:
        items, next_cursor = await list_cases(conn, where)
        total = await count_cases(conn, where)
    return json_response({"items": items, "next_cursor": next_cursor, "total": total})


@router.get(
    "/cases/{case_id}",
    response_model=CaseDetail,
    summary="One case: its transactions (reasons, rules, components) and the card's history",
    responses=documented_errors(keyed("read") | UNAVAILABLE | NO_CASE),
)
async def get_review_case(
    case_id: Annotated[CaseId, PATH_ID], caller: ReadCaller, db: DatabaseDep
) -> Response:
    """A key that scores (and is not an admin) sees only the transactions it scored: the
    case's and the card history's others are left out."""
    async with db.connection() as conn:
        found = await get_case(conn, int(case_id), caller.sees.own)
    if found is None:
        raise NotFound(f"case {case_id} does not exist")
    return json_response(found)


@router.post(
    "/cases/{case_id}/assign",
    response_model=Case,
    summary="Assign a case that is not closed to an analyst",
    openapi_extra=documented_body(AssignRequest),
    responses=documented_errors(
        keyed("review") | BODY | UNAVAILABLE | NO_CASE | {409: "the case is closed"}
    ),
)
async def assign_review_case(
    case_id: Annotated[CaseId, PATH_ID], request: Request, caller: Reviewer, db: DatabaseDep
) -> Response:
    """The case becomes `assigned` (again, to another analyst, if it was)."""
    body = await parse_body(request, AssignRequest)
    async with db.connection() as conn:
        try:
            case = await assign_case(conn, int(case_id), body.assignee)
        except UnknownCase:
            raise NotFound(f"case {case_id} does not exist") from None
        except CaseClosed as exc:
            raise Conflict(str(exc)) from None
    logs.admin_action("case_assign", caller.key_id, case_id=case["id"], assignee=body.assignee)
    return json_response(case)


@router.post(
    "/cases/{case_id}/resolve",
    response_model=ResolveResponse,
    summary="Close a case with a verdict that labels all its transactions",
    openapi_extra=documented_body(ResolveRequest),
    responses=documented_errors(
        keyed("review")
        | BODY
        | NO_CASE
        | {
            409: "the case is closed already (or a label of this case's source disagrees); "
            "nothing changed",
            503: "PostgreSQL or Redis unreachable; nothing changed, retry (Retry-After)",
        }
    ),
)
async def resolve_review_case(
    case_id: Annotated[CaseId, PATH_ID],
    request: Request,
    caller: Reviewer,
    db: DatabaseDep,
    store: StoreDep,
    labels: LabelsDep,
    lists: ListStoreDep,
) -> Response:
    """The verdict becomes the label of every transaction of the case exactly as `POST
    /v1/feedback` stores one (source `case:<id>`, the caller's key id): the label windows
    (`*_known_fraud_*` features), the retraining export and `transactions.labels` see it.
    With `block_card`, the card is also added to the block list. The labels, the list entry
    and the case change together, or (on any error) none of them."""
    body = await parse_body(request, ResolveRequest)
    block = (
        None
        if body.block_card is None
        else CardBlock(body.block_card.reason, body.block_card.expires_at)
    )
    resolution = Resolution(int(case_id), body.verdict, body.note, caller.key_id, block)
    async with db.connection() as conn:
        try:
            resolved = await resolve_case(conn, store, labels, resolution, lists)
        except UnknownCase:
            raise NotFound(f"case {case_id} does not exist") from None
        except (CaseClosed, ConflictingFeedback) as exc:
            raise Conflict(str(exc)) from None
        except InvalidListEntry as exc:
            raise ValidationFailed(
                [{"field": f"block_card.{exc.field}", "message": exc.message, "type": "list"}]
            ) from None
    metrics.CASE_RESOLUTIONS.labels(body.verdict).inc()
    logs.admin_action(
        "case_resolve",
        caller.key_id,
        case_id=resolved["id"],
        verdict=body.verdict,
        labelled=resolved["labelled"],
        blocked=resolved["list_entry"] is not None,
    )
    return json_response(resolved)
