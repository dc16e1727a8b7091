"""Idempotency keys on a real Redis, through the HTTP API: a transaction id is scoped to the
API key that sent it, and bound to the request it came with. The identical retry gets the
identical answer and counts once; the same id with another request gets 409; another
key's same id is another transaction."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from app.auth import digest, key_id
from app.main import create_app
from app.schemas.score import EXAMPLE, ScoreRequest
from features.redis_store import RedisWindowStore
from features.window_format import decision_key, entity_key, seen_key, stored_state
from tests.integration.conftest import API_KEY, make_settings
from tests.integration.test_score_api import body

OTHER_KEY = "fk_integration_other_tenant"


@pytest.fixture
def client(redis_url: str, prefix: str, bundle_dir: Path) -> Iterator[TestClient]:
    """The API with two keys: the suite's and another tenant's."""
    settings = make_settings(
        redis_url, prefix, bundle_dir, api_keys=f"{digest(API_KEY)},{digest(OTHER_KEY)}"
    )
    with TestClient(create_app(settings)) as c:
        c.headers["Authorization"] = f"Bearer {API_KEY}"
        yield c


def members(redis_url: str, prefix: str, entity: str, value: str) -> int:
    with redis.Redis.from_url(redis_url) as r:
        return len(stored_state(entity, r.get(entity_key(prefix, entity, value))).window)


def test_the_identical_retry_gets_the_identical_answer_and_counts_once(
    client: TestClient, redis_url: str, prefix: str
) -> None:
    first = client.post("/v1/score", json=body(transaction_id="same"))
    assert first.status_code == 200
    # The same request, spelled differently: keys in another order, an unknown field, the
    # same time and offset written with milliseconds.
    reordered = dict(reversed(list(body(transaction_id="same").items())))
    for again in (
        body(transaction_id="same"),
        reordered,
        body(transaction_id="same", note="ignored"),
        body(transaction_id="same", timestamp="2026-11-28T12:00:00+01:00"),
    ):
        retry = client.post("/v1/score", json=again)
        assert retry.status_code == 200
        assert retry.content == first.content
    assert members(redis_url, prefix, "card", EXAMPLE["card_id"]) == 1


def test_the_same_id_with_another_request_is_409_and_changes_nothing(
    client: TestClient, redis_url: str, prefix: str
) -> None:
    """The hostile tester's reproduction: reusing a transaction id with another card and
    999,999 returned the cached approve. Now: a 409 in the error envelope, nothing recorded,
    and the original request still gets its original answer."""
    first = client.post("/v1/score", json=body(transaction_id="reused"))
    assert first.status_code == 200
    refused = REGISTRY.get_sample_value("fraud_refused_total", {"status": "409"}) or 0.0
    for changes in (
        {"card_id": "card_victim", "amount": 999_999.0},
        {"amount": 250.0},
        {"timestamp": "2026-11-28T12:00:01.000+01:00"},
        {"timestamp": "2026-11-28T11:00:00.000Z"},  # the same instant, another local time
        {"device_id": None},
    ):
        answer = client.post("/v1/score", json=body(transaction_id="reused", **changes))
        assert answer.status_code == 409, (changes, answer.text)
        assert answer.json()["error"] == "conflict"
        assert "reused" in answer.json()["detail"]
    assert REGISTRY.get_sample_value("fraud_refused_total", {"status": "409"}) == refused + 5
    assert members(redis_url, prefix, "card", "card_victim") == 0
    assert members(redis_url, prefix, "card", EXAMPLE["card_id"]) == 1
    again = client.post("/v1/score", json=body(transaction_id="reused"))
    assert again.content == first.content


def test_another_keys_same_id_is_another_transaction(
    client: TestClient, redis_url: str, prefix: str
) -> None:
    mine = client.post("/v1/score", json=body(transaction_id="shared", amount=10.0))
    other = {"Authorization": f"Bearer {OTHER_KEY}"}
    theirs = client.post(
        "/v1/score", json=body(transaction_id="shared", amount=999_999.0), headers=other
    )
    assert theirs.status_code == 200  # neither a conflict nor the other tenant's answer
    assert theirs.content != mine.content
    assert members(redis_url, prefix, "card", EXAMPLE["card_id"]) == 2  # both counted
    # Each key's retry gets its own answer back.
    retry = client.post(
        "/v1/score", json=body(transaction_id="shared", amount=999_999.0), headers=other
    )
    assert retry.content == theirs.content
    assert client.post("/v1/score", json=body(transaction_id="shared", amount=10.0)).content == (
        mine.content
    )
    with redis.Redis.from_url(redis_url) as r:
        keys = {k.decode() for k in r.scan_iter(match=f"{prefix}:d:*")}
        # Only a short id of each key in Redis, never the key or its stored digest.
        assert keys == {decision_key(prefix, key_id(k), "shared") for k in (API_KEY, OTHER_KEY)}
        assert not any(API_KEY in k or digest(API_KEY) in k for k in keys)
        stored = r.get(decision_key(prefix, key_id(API_KEY), "shared"))
    assert stored is not None
    assert stored.endswith(mine.content)


def test_a_conflict_is_caught_before_the_first_answer_is_stored(
    redis_url: str, prefix: str
) -> None:
    """Within one batch, or before the first answer has been written back: the seen key
    holds the request's fingerprint, so the second request is a conflict (not recorded),
    and the identical one is not recorded a second time."""
    requests = [
        ScoreRequest.model_validate(body(transaction_id="gap", amount=amount)).to_transaction()
        for amount in (10.0, 20.0, 10.0)
    ]

    async def run() -> list[tuple[bool, bool]]:
        async with aioredis.Redis.from_url(redis_url) as client:
            store = RedisWindowStore(client, prefix, 60_000, replay=True)
            reads = await store.read_and_record([t.online("tenant").event for t in requests])
            assert await client.get(seen_key(prefix, "tenant", "gap")) == (
                requests[0].fingerprint().encode()
            )
            return [(r.conflict, r.stored_response is None) for r in reads]

    assert asyncio.run(run()) == [(False, True), (True, True), (False, True)]
    assert members(redis_url, prefix, "card", EXAMPLE["card_id"]) == 1


def test_an_answer_is_stored_as_the_fingerprint_then_the_answer(
    client: TestClient, redis_url: str, prefix: str
) -> None:
    first = client.post("/v1/score", json=body(transaction_id="rt"))
    key = decision_key(prefix, key_id(API_KEY), "rt")
    with redis.Redis.from_url(redis_url) as r:
        deadline = time.monotonic() + 5
        while (stored := r.get(key)) is None and time.monotonic() < deadline:
            time.sleep(0.01)  # written back after the answer, within the linger
    assert stored is not None
    request = ScoreRequest.model_validate(body(transaction_id="rt")).to_transaction()
    assert stored == request.fingerprint().encode() + first.content
    assert client.post("/v1/score", json=body(transaction_id="rt")).content == first.content
