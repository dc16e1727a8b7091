"""Assemble the API: the lifespan (app/lifespan.py), errors, routers, middleware."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, FastAPI
from fastapi.telemetry import TelemetryConfig

from app import errors, metrics, openapi
from app.access_log import AccessLog
from app.deps import KEY_CHECKS
from app.direct import DirectRoutes
from app.lifespan import lifespan, redis_client
from app.limits import BodySizeLimit
from app.routes import (
    admin,
    alerts,
    cases,
    console,
    docs,
    feedback,
    health,
    history,
    lists,
    me,
    model,
    reports,
    rules,
    score,
    stream,
)
from app.settings import Settings, get_settings
from features.redis_store import RedisClient


def create_app(
    settings: Settings | None = None, make_redis: Callable[[Settings], RedisClient] = redis_client
) -> FastAPI:
    settings = settings or get_settings()
    app = DirectRoutes(
        title="fraud-engine",
        version="1",
        summary="Real-time card fraud scoring",
        description="Score a transaction before authorising it: risk score, tier, decision and reasons.",
        lifespan=lifespan(settings, make_redis),
        # Served by app/routes/docs.py from our own assets, not a CDN.
        docs_url=None,
        redoc_url=None,
        telemetry=TelemetryConfig(
            tracing=settings.opentelemetry,
            metrics=settings.opentelemetry,
            logs=settings.opentelemetry,
        ),
    )
    errors.install(app)
    add_routes(app, score.router, health.router, history.router, feedback.router, stream.router)
    add_routes(app, rules.router, lists.router, cases.router, alerts.router, me.router)
    add_routes(app, reports.router, admin.router, model.router, docs.router)
    score.install(app, settings.access_log)  # answered ahead of the rest
    console.install(app, settings.console_dir)
    openapi.install(app, KEY_CHECKS)
    metrics.instrument(app)
    app.add_middleware(
        BodySizeLimit, max_bytes=settings.max_body_bytes, timeout_s=settings.body_timeout_s
    )
    if settings.access_log:
        app.add_middleware(AccessLog)  # added last: outermost
    return app


def add_routes(app: FastAPI, *routers: APIRouter) -> None:
    """The routers' routes joined to the app's own list, as `include_router` did before
    FastAPI 0.116. Since then it keeps each router nested and resolves it again on every
    request, and the instrumentator flattens them all to name each request's handler:
    together about 40 us of every request (docs/performance.md). The routes are complete
    already (full path, tags, the router's dependencies); `app.dependency_overrides` does
    not reach them, which nothing here uses."""
    for router in routers:
        app.router.routes.extend(router.routes)
