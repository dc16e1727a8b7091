"""Identifiers have one spelling on a real `fraud serve` (Redis, PostgreSQL): a list entry
blocks a card however the request spells it (decomposed accents, zero-width and other
format characters, fullwidth letters), and an entry written in such a spelling blocks the
plain one. It used to take an exact byte match, so a gateway (or an attacker choosing the
spelling) walked past every block."""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.auth import digest
from tests.e2e.test_serve import live, serving
from tests.pg import DATABASE_URL, drop_schema

ADMIN = f"fk_e2e_spelling_admin_{uuid.uuid4().hex}"


def fullwidth(value: str) -> str:
    """Printable ASCII as its fullwidth forms (U+FF01-U+FF5E), which NFKC maps back."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in value)


def zero_width(value: str) -> str:
    return value[:5] + "\u200b" + value[5:]


def format_characters(value: str) -> str:
    """A soft hyphen, a right-to-left mark and a byte order mark (Unicode category Cf)."""
    return "\ufeff" + value[:3] + "\u00ad" + value[3:7] + "\u200f" + value[7:]


def decomposed(value: str) -> str:
    return unicodedata.normalize("NFD", value)


# Each odd spelling, and a plain value it changes (NFD changes only precomposed letters).
SPELLINGS: dict[str, tuple[Callable[[str], str], str]] = {
    "nfd": (decomposed, "card_tök_x"),
    "zero-width-space": (zero_width, "card_tok_x"),
    "format-characters": (format_characters, "card_tok_x"),
    "fullwidth": (fullwidth, "card_tok_x"),
}


@pytest.fixture(scope="module")
def server(bundle_dir: Path) -> Iterator[tuple[str, httpx.Client]]:
    schema = f"t_{uuid.uuid4().hex[:10]}"
    env = {
        "FRAUD_REDIS_PREFIX": f"sp{uuid.uuid4().hex[:8]}",
        "FRAUD_ADMIN_API_KEYS": digest(ADMIN),
        "FRAUD_DATABASE_URL": DATABASE_URL,
        "FRAUD_DATABASE_SCHEMA": schema,
    }
    try:
        with serving(bundle_dir, env=env) as (base, _), httpx.Client(timeout=10) as http:
            yield base, http
    finally:
        drop_schema(schema)


def block(base: str, http: httpx.Client, card: str) -> httpx.Response:
    entry = {"entity": "card", "value": card, "action": "block", "reason": "spelling"}
    return http.post(f"{base}/v1/lists", json=entry, headers={"Authorization": f"Bearer {ADMIN}"})


def score(base: str, http: httpx.Client, card: str) -> dict[str, Any]:
    tx = live(card_id=card, transaction_id=f"sp_{uuid.uuid4().hex[:12]}")
    r = http.post(f"{base}/v1/score", json=tx, headers={"Authorization": "Bearer k1"})
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


@pytest.mark.parametrize("kind", SPELLINGS)
def test_a_plain_entry_blocks_every_spelling_of_its_card(
    server: tuple[str, httpx.Client], kind: str
) -> None:
    base, http = server
    spell, plain = SPELLINGS[kind]
    plain += f"_{kind}"  # a card of this case's own
    odd = spell(plain)
    assert odd != plain
    made = block(base, http, plain)
    assert made.status_code == 201, made.text
    answer = score(base, http, odd)
    assert (answer["decision"], answer["decision_source"]) == (
        "decline",
        f"list:{made.json()['id']}",
    )


@pytest.mark.parametrize("kind", SPELLINGS)
def test_an_entry_in_an_odd_spelling_blocks_the_plain_card_and_is_stored_plain(
    server: tuple[str, httpx.Client], kind: str
) -> None:
    base, http = server
    spell, plain = SPELLINGS[kind]
    plain += f"_{kind}_entry"  # a card of this case's own
    made = block(base, http, spell(plain))
    assert made.status_code == 201, made.text
    assert made.json()["value"] == plain
    answer = score(base, http, plain)
    assert (answer["decision"], answer["decision_source"]) == (
        "decline",
        f"list:{made.json()['id']}",
    )
    # The same card in the plain spelling is the same entry.
    again = block(base, http, plain)
    assert again.status_code == 409, again.text
