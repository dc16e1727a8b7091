"""API keys: sent as `Authorization: Bearer <key>` or `X-API-Key`, stored as SHA-256 digests,
compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.requests import HTTPConnection

from app.errors import Unauthorized


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> tuple[str, str]:
    """A fresh random key and its digest (for FRAUD_API_KEYS)."""
    key = "fk_" + secrets.token_urlsafe(32)
    return key, digest(key)


def presented_key(request: HTTPConnection) -> str | None:
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return request.headers.get("x-api-key") or None


def check(request: HTTPConnection, digests: frozenset[str]) -> None:
    check_key(presented_key(request), digests)


def check_key(key: str | None, digests: frozenset[str]) -> None:
    if key is None:
        raise Unauthorized("missing API key: send `Authorization: Bearer <key>` or `X-API-Key`")
    mine = digest(key)
    # Compare against every digest so the time taken does not reveal which one matched.
    matched = False
    for known in digests:
        matched |= hmac.compare_digest(mine, known)
    if not matched:
        raise Unauthorized("unknown API key")


# The caller's identity for scoping its data (idempotency keys): a short prefix of the key's
# digest, never the key itself, and not the stored digest whole either.
KEY_ID_LENGTH = 16


def key_id(key: str) -> str:
    """A short, stable id of an API key (hex): whose transaction ids these are."""
    return digest(key)[:KEY_ID_LENGTH]
