"""JSON bodies: requests validated by pydantic-core straight from the bytes (several times
cheaper than FastAPI's decode-then-validate path, with the same model and errors) and
their OpenAPI description; responses encoded with orjson."""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from app.errors import UnsupportedMediaType

Model = TypeVar("Model", bound=BaseModel)

# The end of an object key: its closing quote, optional white space, the colon. Every key
# ends so; text inside a string value does only if it holds an escaped quote before a colon.
_KEY_END = re.compile(rb'"[ \t\n\r]*:')


def documented_body(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` for a route that reads `model` itself. The schema's nested models
    are written out in place: its own `#/$defs/...` references would not resolve inside the
    OpenAPI document."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _inlined(schema, defs)}},
        }
    }


def _inlined(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inlined(defs[ref.removeprefix("#/$defs/")], defs)
        return {key: _inlined(value, defs) for key, value in node.items()}
    if isinstance(node, list):
        return [_inlined(item, defs) for item in node]
    return node


async def parse_body(request: Request, model: type[Model]) -> Model:
    """The body as `model`; a 415 unless it is sent as JSON, a 422 naming the fields that
    break it or the key that repeats."""
    require_json(request.headers.get("content-type", ""))
    return validated(await request.body(), model)


def require_json(content_type: str) -> None:
    """A 415 unless `content_type` (the header's value) is JSON's."""
    if content_type.partition(";")[0].strip().lower() != "application/json":
        raise UnsupportedMediaType("send the body as application/json")


def validated(body: bytes, model: type[Model]) -> Model:
    """`body` as `model`, or a 422 naming the fields that break it or the key that repeats."""
    try:
        value = model.model_validate_json(body)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None
    # pydantic-core, like orjson, keeps the last of repeated keys. Counting key ends is one
    # scan of the bytes (about 2 us for a /v1/score body, a fifth of its validation); only
    # when they outnumber the fields read (a repeat, an unknown field, an escaped quote
    # before a colon) is the body parsed again, by the json module, to find the repeat.
    if len(_KEY_END.findall(body)) != len(value.model_fields_set):
        refuse_repeated_keys(body)
    return value


class _RepeatedKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _RepeatedKey(key)
        out[key] = value
    return out


def refuse_repeated_keys(body: bytes) -> None:
    """A 422 naming the first key that an object of `body` (valid JSON) holds twice."""
    try:
        json.loads(body, object_pairs_hook=_unique_pairs)
    except _RepeatedKey as exc:
        raise RequestValidationError(
            [
                {
                    "loc": ("body", exc.key),
                    "msg": "the key appears more than once",
                    "type": "duplicate_key",
                }
            ]
        ) from None


def json_response(value: object, status_code: int = 200) -> Response:
    return Response(orjson.dumps(value), status_code=status_code, media_type="application/json")
