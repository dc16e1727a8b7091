"""Typed dependencies: what a handler needs, built once in the lifespan."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app import auth
from app.service import ModelHolder, ScoringService
from app.settings import Settings
from features.redis_store import RedisWindowStore
from persistence.database import Database
from persistence.producer import AuditProducer


async def _settings(request: Request) -> Settings:
    return request.app.state.settings


async def _service(request: Request) -> ScoringService:
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
ServiceDep = Annotated[ScoringService, Depends(_service)]
ModelsDep = Annotated[ModelHolder, Depends(_models)]
StoreDep = Annotated[RedisWindowStore, Depends(_store)]
DatabaseDep = Annotated[Database, Depends(_database)]
LabelsDep = Annotated[AuditProducer | None, Depends(_labels)]
ApiKey = Depends(_api_key)
AdminKey = Depends(_admin_key)
