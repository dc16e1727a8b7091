"""The OpenAPI document as the API behaves: our error envelope on every refusal, and the
API-key schemes on the operations that check a key."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from app.schemas.errors import ErrorBody, ValidationErrorBody
from app.settings import Settings


# Descriptions of the refusals most operations share; a route joins those it can answer.
def keyed(scope: str) -> dict[int, str]:
    """The refusals of an operation that needs a key with `scope` (app/scopes.py)."""
    return {
        401: "missing or unknown API key",
        403: f"the key lacks the `{scope}` scope",
        429: "the key is over its rate limit (FRAUD_RATE_LIMIT_PER_S); retry after Retry-After",
    }


BODY = {
    413: "body over FRAUD_MAX_BODY_BYTES",
    415: "the body is not sent as application/json",
    422: "a field breaks the contract (named in `detail`), or a key repeats; nothing was written",
}
UNAVAILABLE = {503: "a store this operation needs is unreachable; retry (Retry-After)"}

SECURITY_SCHEMES = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "`Authorization: Bearer <key>` (a key from `fraud keys create`)",
    },
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
}
# Either scheme is enough.
SECURITY: list[dict[str, list[str]]] = [{"bearer": []}, {"apiKey": []}]


def documented_errors(described: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """`responses` for a route: each status with its description and our envelope."""
    return {
        status: {
            "description": text,
            "model": ValidationErrorBody if status == 422 else ErrorBody,
        }
        for status, text in described.items()
    }


def install(app: FastAPI, key_checks: frozenset[Callable[..., Any]]) -> None:
    """Build the document once, on first request: operations whose dependencies include
    one of `key_checks` are marked as needing an API key."""

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
            for route in app.routes:
                if isinstance(route, APIRoute) and _secured(route, key_checks):
                    for method in route.methods or ():
                        schema["paths"][route.path_format][method.lower()]["security"] = SECURITY
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]


def _secured(route: APIRoute, key_checks: frozenset[Callable[..., Any]]) -> bool:
    return route.include_in_schema and any(call in key_checks for call in _calls(route.dependant))


def _calls(dependant: Dependant) -> Iterator[Any]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _calls(dependency)


def standalone_document() -> dict[str, Any]:
    """The document of an app built from the default settings, whatever FRAUD_* variables or
    .env this environment has (an invalid or production one included): nothing is started
    and no store is reached."""
    from app.main import create_app

    return create_app(_defaults()).openapi()


def _defaults() -> Settings:
    class Defaults(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings,)  # the constructor's arguments only: no environment, no .env

    return Defaults()
