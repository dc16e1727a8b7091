"""What each API key may do: the scopes, what each implies, and the table from key digest to
scopes built from the settings' key lists (pure: no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

Scope = Literal["score", "read", "review", "admin"]
SCOPES: tuple[Scope, ...] = ("score", "read", "review", "admin")

# A key listed for a scope also holds the scopes that scope implies.
IMPLIED: dict[Scope, frozenset[Scope]] = {
    "score": frozenset({"score"}),
    "read": frozenset({"read"}),
    "review": frozenset({"review", "read"}),
    "admin": frozenset(SCOPES),
}


def parse_digests(value: str) -> frozenset[str]:
    """A comma-separated list of SHA-256 hex digests, as the FRAUD_*API_KEYS settings hold."""
    return frozenset(k.strip().lower() for k in value.split(",") if k.strip())


def scopes_by_digest(lists: Mapping[Scope, frozenset[str]]) -> dict[str, frozenset[Scope]]:
    """Each key digest's scopes: the union of what each list it is in implies."""
    granted: dict[str, frozenset[Scope]] = {}
    for scope, digests in lists.items():
        for known in digests:
            granted[known] = granted.get(known, frozenset()) | IMPLIED[scope]
    return granted
