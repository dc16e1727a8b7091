"""API keys: sent as `Authorization: Bearer <key>` or `X-API-Key`, stored as SHA-256 digests,
compared in constant time; each key holds scopes (app/scopes.py)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import HTTPConnection

from app.errors import Forbidden, Unauthorized
from app.logs import KEY_ID
from app.scopes import Scope
from persistence.history import Visibility


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


# A key's public name in logs, stored feedback and its transaction ids' scope: the first
# hex digits of its SHA-256 digest (not enough to find the key, enough to tell keys apart).
KEY_ID_HEX = 16


def key_id(key: str) -> str:
    return digest(key)[:KEY_ID_HEX]


def new_key() -> tuple[str, str]:
    """A fresh random key and its digest (for FRAUD_API_KEYS)."""
    key = "fk_" + secrets.token_urlsafe(32)
    return key, digest(key)


@dataclass(frozen=True, slots=True)
class Caller:
    key_id: str
    scopes: frozenset[Scope]

    @property
    def sees(self) -> Visibility:
        """The transactions this caller may read and label: a key that scores (and is not an
        admin) sees only the ids it scored; read, review and admin keys see every scope."""
        own = "score" in self.scopes and "admin" not in self.scopes
        return Visibility(self.key_id if own else None)


def presented_key(request: HTTPConnection) -> str | None:
    headers = request.headers
    return presented(headers.get("authorization", ""), headers.get("x-api-key", ""))


def presented(authorization: str, api_key: str) -> str | None:
    """The key in the `Authorization` (a bearer token) or else the `X-API-Key` header's
    value ("" for a header not sent)."""
    if authorization[:7].lower() == "bearer ":
        return authorization[7:].strip() or None
    return api_key or None


def authorize(
    connection: MutableMapping[str, Any],
    key: str | None,
    granted: dict[str, frozenset[Scope]],
    needed: Scope | None,
) -> Caller:
    """The caller of a connection (its ASGI scope) if `key` holds `needed` (any known key
    for None): Unauthorized (401) for a missing or unknown key, Forbidden (403) for a key
    without the scope. The key id is left in the connection's scope either way (KEY_ID),
    for the logs and the route."""
    if key is None:
        raise Unauthorized("missing API key: send `Authorization: Bearer <key>` or `X-API-Key`")
    mine = digest(key)
    caller_id = connection[KEY_ID] = mine[:KEY_ID_HEX]
    # Compare against every digest so the time taken does not reveal which one matched.
    scopes: frozenset[Scope] | None = None
    for known, its_scopes in granted.items():
        if hmac.compare_digest(mine, known):
            scopes = its_scopes
    if scopes is None:
        raise Unauthorized("unknown API key")
    if needed is not None and needed not in scopes:
        raise Forbidden(f"this API key needs the `{needed}` scope")
    return Caller(caller_id, scopes)
