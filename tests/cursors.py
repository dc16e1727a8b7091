"""History cursors of any content, in the API's encoding: for tests of refused cursors."""

from __future__ import annotations

import base64

import orjson


def cursor_of(value: object) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(value)).decode().rstrip("=")
