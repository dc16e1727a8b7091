"""/v1/lists: allow, block and review lists (controls/lists.py), recorded in PostgreSQL and
published to Redis, where every API process's next batch sees them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from app import logs
from app.bodies import documented_body, json_response, parse_body
from app.deps import Administrator, DatabaseDep, ListStoreDep, ReadKey, SettingsDep
from app.errors import Conflict, NotFound, ServiceUnavailable, ValidationFailed
from app.openapi import BODY, documented_errors, keyed
from app.routes.paging import Limit, PageCursor, bad_cursor
from app.schemas.fields import DecimalInt
from app.schemas.lists import ListEntryOut, ListEntryPage, ListEntryRequest
from app.settings import Settings
from controls.lists import BadListValue, RangeTooWide, check_range_width, list_value
from features.redis_store import STORE_ERRORS
from persistence.lists import (
    BadListCursor,
    InvalidListEntry,
    ListEntryExists,
    ListPage,
    NewListEntry,
    add_list_entry,
    decode_list_cursor,
    delete_list_entry,
    get_list_entry,
    list_entries,
)
from vocabulary import Entity, ListAction

router = APIRouter(prefix="/v1", tags=["lists"])
UNREACHABLE = "PostgreSQL or Redis unreachable: nothing was changed; retry (Retry-After)"
EntryId = Annotated[DecimalInt, Path(ge=1, description="The entry's id (decimal digits)")]


@router.post(
    "/lists",
    status_code=201,
    response_model=ListEntryOut,
    summary="Add an allow, block or review list entry",
    openapi_extra=documented_body(ListEntryRequest),
    responses=documented_errors(
        keyed("admin")
        | BODY
        | {
            409: "the same entity, value and action is listed already (and not expired)",
            503: UNREACHABLE,
        }
    ),
)
async def add_entry(
    request: Request,
    caller: Administrator,
    db: DatabaseDep,
    lists: ListStoreDep,
    settings: SettingsDep,
) -> Response:
    """Applies from the next batch of every API process (Redis is written before the
    record commits; if Redis is unreachable nothing is stored and the answer is 503). A
    block declines whatever the model says; an allow approves unless a block also matches;
    a review sends the transaction to review. Degraded answers (Redis unreachable) cannot
    see lists. An IP entry may be a CIDR range (IPv4 or IPv6); an IPv4 range matches only
    IPv4 addresses."""
    body = await parse_body(request, ListEntryRequest)
    refuse_wide_range(body, settings)
    new = NewListEntry(body.entity, body.value, body.action, body.reason, body.expires_at)
    async with db.connection() as conn, conn.transaction():
        try:
            entry = await add_list_entry(conn, new, caller.key_id)
        except InvalidListEntry as exc:
            raise ValidationFailed(
                [{"field": exc.field, "message": exc.message, "type": "list_entry"}]
            ) from None
        except ListEntryExists as exc:
            raise Conflict(str(exc)) from None
        try:  # before the commit: a Redis failure rolls the entry back
            await lists.publish(entry)
        except STORE_ERRORS as exc:
            raise ServiceUnavailable(f"feature store unavailable: {exc!r}") from None
    logs.admin_action(
        "list_add", caller.key_id, entry_id=entry.id, entity=entry.entity, list_action=entry.action
    )
    return json_response(entry.as_json(), 201)


def refuse_wide_range(body: ListEntryRequest, settings: Settings) -> None:
    """422 on `value` for an IP range wider than the settings' minimum prefix lengths,
    before anything is written."""
    if body.entity != "ip":
        return
    try:
        check_range_width(
            list_value("ip", body.value),
            settings.list_min_ipv4_prefix,
            settings.list_min_ipv6_prefix,
        )
    except RangeTooWide as exc:
        raise ValidationFailed(
            [{"field": "value", "message": str(exc), "type": "list_entry"}]
        ) from None
    except BadListValue:
        pass  # not an address or range at all: add_list_entry refuses it, naming `value`


@router.get(
    "/lists",
    response_model=ListEntryPage,
    summary="List entries not deleted (expired ones included), newest first, keyset paginated",
    dependencies=[ReadKey],
    responses=documented_errors(
        keyed("read") | {422: "a bad filter or cursor", 503: "PostgreSQL unreachable"}
    ),
)
async def list_all(
    db: DatabaseDep,
    entity: Entity | None = None,
    action: ListAction | None = None,
    limit: Limit = 50,
    cursor: PageCursor = None,
) -> Response:
    try:
        before = decode_list_cursor(cursor) if cursor else None
    except BadListCursor as exc:
        raise bad_cursor(exc) from None
    async with db.connection() as conn:
        items, next_cursor = await list_entries(conn, ListPage(entity, action, before, limit))
    return json_response({"items": [e.as_json() for e in items], "next_cursor": next_cursor})


@router.get(
    "/lists/{entry_id}",
    response_model=ListEntryOut,
    summary="One list entry, deleted or not",
    dependencies=[ReadKey],
    responses=documented_errors(
        keyed("read")
        | {404: "no such entry", 422: "not an entry id", 503: "PostgreSQL unreachable"}
    ),
)
async def get_entry(entry_id: EntryId, db: DatabaseDep) -> Response:
    async with db.connection() as conn:
        entry = await get_list_entry(conn, entry_id)
    if entry is None:
        raise NotFound(f"list entry {entry_id} does not exist")
    return json_response(entry.as_json())


@router.delete(
    "/lists/{entry_id}",
    status_code=204,
    summary="Delete a list entry (its record stays, with who deleted it and when)",
    responses=documented_errors(
        keyed("admin")
        | {
            404: "no such entry, or it is deleted already",
            422: "not an entry id",
            503: UNREACHABLE,
        }
    ),
)
async def delete_entry(
    entry_id: EntryId, caller: Administrator, db: DatabaseDep, lists: ListStoreDep
) -> Response:
    """Stops applying from the next batch of every API process."""
    async with db.connection() as conn, conn.transaction():
        entry = await delete_list_entry(conn, entry_id, caller.key_id)
        if entry is None:
            raise NotFound(f"list entry {entry_id} does not exist or is deleted already")
        try:  # before the commit: a Redis failure keeps the entry
            await lists.unpublish(entry)
        except STORE_ERRORS as exc:
            raise ServiceUnavailable(f"feature store unavailable: {exc!r}") from None
    logs.admin_action(
        "list_delete",
        caller.key_id,
        entry_id=entry.id,
        entity=entry.entity,
        list_action=entry.action,
    )
    return Response(status_code=204)
