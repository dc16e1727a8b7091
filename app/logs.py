"""The service's logs: one line per event, JSON (python-json-logger) or text, on stderr;
the access log (`fraud.access`) and the security log (`fraud.security`: refusals and admin
actions). No line carries a key, a card, device, IP, account or a request body: callers are
named by key id (app.auth.key_id), routes by their path template."""

from __future__ import annotations

import logging
from typing import Any, Literal

from pythonjsonlogger.orjson import OrjsonFormatter
from starlette.types import Scope

# Where the caller's key id is left in the ASGI scope (app.auth.authorize), for these logs.
KEY_ID = "fraud.key_id"

access = logging.getLogger("fraud.access")
security = logging.getLogger("fraud.security")

LogFormat = Literal["json", "text"]
TEXT = "%(asctime)s %(levelname)s %(name)s %(message)s"
# The record's own fields in each JSON line; `extra` fields follow them.
JSON_FIELDS = ["asctime", "levelname", "name", "message"]
JSON_NAMES = {"asctime": "time", "levelname": "level", "name": "logger"}


class JsonLines(OrjsonFormatter):
    """Each line a JSON object: JSON_FIELDS renamed by JSON_NAMES, then the `extra` fields."""

    def __init__(self) -> None:
        super().__init__(JSON_FIELDS, rename_fields=JSON_NAMES)


class TextLines(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(TEXT)


def logging_config(log_format: LogFormat) -> dict[str, Any]:
    """A logging.config.dictConfig for the whole process (uvicorn's own loggers included),
    applied by uvicorn in every worker."""
    lines = JsonLines if log_format == "json" else TextLines
    formatter = {"()": f"{lines.__module__}.{lines.__qualname__}"}
    handler = {"class": "logging.StreamHandler", "formatter": "line", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"line": formatter},
        "handlers": {"stderr": handler},
        "root": {"handlers": ["stderr"], "level": "INFO"},
        "loggers": {
            # uvicorn's loggers pass their lines to the root handler; its access log (with
            # the client's address) stays off: fraud.access replaces it.
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": False},
        },
    }


def route_template(scope: Scope) -> str:
    """The matched route's path template (`/v1/transactions/{transaction_id}`): a raw path
    can carry identifiers."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "<unmatched>"


def refused(scope: Scope, status: int, error: str, detail: object) -> None:
    """A security line for a 401, 403 or 429."""
    security.warning(
        "refused %s %s: %d %s",
        scope.get("method", "WEBSOCKET"),
        route_template(scope),
        status,
        error,
        extra={
            "event": "refused",
            "status": status,
            "error": error,
            "detail": detail,
            "key_id": scope.get(KEY_ID),
            "method": scope.get("method", "WEBSOCKET"),
            "path": route_template(scope),
        },
    )


def admin_action(action: str, key_id: str | None, **fields: object) -> None:
    """A security line for an operator's action (a model reload, by API or SIGHUP)."""
    security.info(
        "admin %s", action, extra={"event": "admin", "action": action, "key_id": key_id, **fields}
    )
