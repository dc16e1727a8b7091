"""Identifiers in one spelling on real Redis, PostgreSQL and tansu: whatever spelling a
request uses (format characters, decomposed accents, fullwidth letters), its card is one
window key, a rule's literal in any spelling meets it, and the history finds it by any
spelling. An identifier of format characters only is refused, naming the field."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from app.main import create_app
from features.window_format import entity_key, stored_state
from localservers import TansuBroker
from persistence.consumer import ConsumerConfig
from tests.e2e.test_identifier_spelling import SPELLINGS, fullwidth, zero_width
from tests.integration.conftest import API_KEY, keys_of, make_settings
from tests.integration.test_score_api import body
from tests.pg import DATABASE_URL, consume_until


@pytest.fixture
def api(redis_url: str, prefix: str, bundle_dir: Path, schema: str) -> Iterator[TestClient]:
    settings = make_settings(
        redis_url, prefix, bundle_dir, database_url=DATABASE_URL, database_schema=schema
    )
    with TestClient(create_app(settings)) as c:
        c.headers["Authorization"] = f"Bearer {API_KEY}"
        yield c


def test_every_spelling_of_a_card_is_one_window(
    client: TestClient, redis_url: str, prefix: str
) -> None:
    for kind, (spell, card_of_kind) in SPELLINGS.items():
        plain = f"{card_of_kind}_{kind}"
        for n, card in enumerate((plain, spell(plain))):
            r = client.post("/v1/score", json=body(transaction_id=f"w_{kind}_{n}", card_id=card))
            assert r.status_code == 200, r.text
        with redis.Redis.from_url(redis_url) as r:
            assert (
                len(stored_state("card", r.get(entity_key(prefix, "card", plain))).window) == 2
            ), kind
            assert not r.exists(entity_key(prefix, "card", spell(plain)))


@pytest.mark.parametrize("field", ["card_id", "account_id", "merchant_id", "device_id"])
@pytest.mark.parametrize("value", ["\u200b", "\ufeff\u200d\u00ad", "\ufdfa" * 8])
def test_an_identifier_with_nothing_left_or_too_long_once_normalised_is_422(
    client: TestClient, redis_url: str, prefix: str, field: str, value: str
) -> None:
    """Only format characters normalise to nothing; U+FDFA (one character) to 18."""
    r = client.post("/v1/score", json=body(transaction_id="empty", **{field: value}))
    assert r.status_code == 422, r.text
    assert [d["field"] for d in r.json()["detail"]] == [field]
    assert "normalised" in r.json()["detail"][0]["message"]
    assert keys_of(redis_url, prefix) == set()


def decided_by(api: TestClient, source: str, card: str) -> dict[str, Any]:
    """Score the card until the decision's source is `source` (rules reach the scoring
    service within FRAUD_RULES_SYNC_MS), or a second has passed."""
    deadline = time.monotonic() + 1.0
    while True:
        tx = body(transaction_id=f"r{time.monotonic_ns()}", card_id=card)
        answer: dict[str, Any] = api.post("/v1/score", json=tx).json()
        if answer.get("decision_source") == source or time.monotonic() > deadline:
            return answer
        time.sleep(0.02)


@pytest.mark.parametrize(
    ("literal", "card"),
    [
        (fullwidth("card_rule_a"), "card_rule_a"),  # the rule in an odd spelling
        ("card_rule_b", zero_width("card_rule_b")),  # the request in one
        ("card_r\u00f6le_c", "card_ro\u0308le_c"),  # composed in the rule, decomposed sent
    ],
)
def test_a_rule_literal_meets_every_spelling(api: TestClient, literal: str, card: str) -> None:
    rule = {
        "description": "one card",
        "condition": f'card_id == "{literal}" or card_id in ["x", "{literal}"]',
        "action": "decline",
        "priority": 1,
    }
    assert api.put("/v1/rules/one_card", json=rule).status_code == 201
    answer = decided_by(api, "rule:one_card", card)
    assert (answer["decision"], answer["decision_source"]) == ("decline", "rule:one_card")


def test_the_history_finds_a_card_by_any_spelling(
    broker: TansuBroker, schema: str, audited_client: TestClient
) -> None:
    spell, plain = SPELLINGS["format-characters"]
    sent = {"hs_plain": plain, "hs_odd": spell(plain), "hs_wide": fullwidth(plain)}
    for tx, card in sent.items():
        r = audited_client.post("/v1/score", json=body(transaction_id=tx, card_id=card))
        assert r.status_code == 200, r.text
    config = ConsumerConfig(
        broker.bootstrap, "transactions.scored", f"g-{schema}", DATABASE_URL, schema
    )
    assert asyncio.run(consume_until(config, len(sent), 0)) == (len(sent), 0)
    for card in sent.values():
        page = audited_client.get("/v1/transactions", params={"card_id": card})
        assert page.status_code == 200, page.text
        assert sorted(item["transaction_id"] for item in page.json()["items"]) == sorted(sent)
    # Stored in the one spelling.
    stored = audited_client.get("/v1/transactions/hs_odd").json()
    assert stored["request"]["card_id"] == plain
