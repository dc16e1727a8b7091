"""Typed dependencies: what a handler needs, built once in the lifespan."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Annotated, Any, NoReturn

from fastapi import Depends, Request
from starlette.datastructures import State

from app import auth, metrics
from app.errors import TooManyRequests
from app.scopes import Scope
from app.settings import Settings
from controls.list_store import RedisListStore
from features.store import WindowStore
from persistence.database import Database
from persistence.producer import AuditProducer
from scoring.models import ModelHolder
from scoring.service import ScoringService


async def _settings(request: Request) -> Settings:
    return request.app.state.settings


async def _scoring(request: Request) -> ScoringService:
    """The scoring service for a caller whose key holds the `score` scope: one dependency,
    not two, on the hottest route (each costs FastAPI about 10 us per request)."""
    _admitted(request, "score")
    return request.app.state.service


def _admitted(request: Request, scope: Scope | None) -> auth.Caller:
    """The caller, if its key holds `scope` (None: any known key) and is within its rate
    limit."""
    return admit(request.app.state, request.scope, auth.presented_key(request), scope)


def admit(
    state: State, connection: MutableMapping[str, Any], key: str | None, scope: Scope | None
) -> auth.Caller:
    """The caller presenting `key` on a connection (its ASGI scope), if the key holds `scope`
    (None: any known key) and is within its rate limit: else 401, 403 or 429."""
    caller = auth.authorize(connection, key, state.settings.key_scopes, scope)
    wait = state.limiter.admit(caller.key_id)
    if wait is not None:
        _over_limit(state.settings, caller, scope, wait)
    return caller


def _over_limit(
    settings: Settings, caller: auth.Caller, scope: Scope | None, wait: int
) -> NoReturn:
    metrics.RATE_LIMITED.labels(scope or "any").inc()
    raise TooManyRequests(
        f"API key {caller.key_id} is over its limit of {settings.rate_limit_per_s:g} "
        "requests a second",
        wait,
    )


async def _models(request: Request) -> ModelHolder:
    return request.app.state.models


async def _store(request: Request) -> WindowStore:
    return request.app.state.store


async def _lists(request: Request) -> RedisListStore:
    return request.app.state.lists


async def _database(request: Request) -> Database:
    return request.app.state.database


async def _labels(request: Request) -> AuditProducer | None:
    return request.app.state.labels


def _caller_with(scope: Scope | None) -> Callable[[Request], Awaitable[auth.Caller]]:
    async def caller(request: Request) -> auth.Caller:
        return _admitted(request, scope)

    return caller


SettingsDep = Annotated[Settings, Depends(_settings)]
AuthorizedScoring = Annotated[ScoringService, Depends(_scoring)]
ModelsDep = Annotated[ModelHolder, Depends(_models)]
StoreDep = Annotated[WindowStore, Depends(_store)]
DatabaseDep = Annotated[Database, Depends(_database)]
ListStoreDep = Annotated[RedisListStore, Depends(_lists)]
LabelsDep = Annotated[AuditProducer | None, Depends(_labels)]
_any_caller = _caller_with(None)
_read_caller = _caller_with("read")
_review_caller = _caller_with("review")
_admin_caller = _caller_with("admin")
ReadKey = Depends(_read_caller)
ReadCaller = Annotated[auth.Caller, Depends(_read_caller)]
Administrator = Annotated[auth.Caller, Depends(_admin_caller)]
Reviewer = Annotated[auth.Caller, Depends(_review_caller)]
AnyKey = Annotated[auth.Caller, Depends(_any_caller)]
# The dependencies that check an API key: the OpenAPI document marks their operations.
KEY_CHECKS = frozenset({_scoring, _any_caller, _read_caller, _review_caller, _admin_caller})
