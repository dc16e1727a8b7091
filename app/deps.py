"""Typed dependencies: what a handler needs, built once in the lifespan."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app import auth
from app.settings import Settings
from features.redis_store import RedisWindowStore
from persistence.database import Database
from persistence.producer import AuditProducer
from scoring.models import ModelHolder
from scoring.service import ScoringService


async def _settings(request: Request) -> Settings:
    return request.app.state.settings


async def _scoring(request: Request) -> ScoringService:
    """The scoring service for a caller with a valid API key: one dependency, not two, on
    the hottest route (each costs FastAPI about 10 us per request)."""
    auth.check(request, request.app.state.settings.api_key_digests)
    return request.app.state.service


async def _models(request: Request) -> ModelHolder:
    return request.app.state.models


async def _store(request: Request) -> RedisWindowStore:
    return request.app.state.store


async def _database(request: Request) -> Database:
    return request.app.state.database


async def _labels(request: Request) -> AuditProducer | None:
    return request.app.state.labels


async def _api_key(request: Request) -> None:
    auth.check(request, request.app.state.settings.api_key_digests)


async def _admin_key(request: Request) -> None:
    auth.check(request, request.app.state.settings.admin_key_digests)


SettingsDep = Annotated[Settings, Depends(_settings)]
AuthorizedScoring = Annotated[ScoringService, Depends(_scoring)]
ModelsDep = Annotated[ModelHolder, Depends(_models)]
StoreDep = Annotated[RedisWindowStore, Depends(_store)]
DatabaseDep = Annotated[Database, Depends(_database)]
LabelsDep = Annotated[AuditProducer | None, Depends(_labels)]
ApiKey = Depends(_api_key)
AdminKey = Depends(_admin_key)
# The dependencies that check an API key: the OpenAPI document marks their operations.
KEY_CHECKS = frozenset({_scoring, _api_key, _admin_key})
