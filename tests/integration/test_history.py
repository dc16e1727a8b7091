"""GET /v1/transactions and POST /v1/feedback against the real PostgreSQL, Redis and tansu."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest
import redis.asyncio as aredis
from aiokafka import AIOKafkaConsumer
from fastapi.testclient import TestClient

from app.auth import key_id
from app.main import create_app
from features.redis_store import RedisWindowStore
from features.window_format import Event, label_key
from localservers import TansuBroker, free_port
from persistence.consumer import ConsumerConfig
from persistence.history import Feedback, Stored, TooManyLabels, store_feedback
from tests.cursors import cursor_of
from tests.integration.conftest import API_KEY, make_settings
from tests.integration.test_score_api import body
from tests.pg import DATABASE_URL, consume_until, query

START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def scored(broker: TansuBroker, schema: str, audited_client: TestClient) -> dict[str, Any]:
    """40 decisions on 4 cards, written to PostgreSQL by the consumer; their answers by id."""
    answers = {}
    for i in range(40):
        tx = body(
            transaction_id=f"h{i:02d}",
            card_id=f"card_h{i % 4}",
            timestamp=(START + timedelta(minutes=7 * i)).isoformat(),
            amount=float(20 + 37 * i),
        )
        r = audited_client.post("/v1/score", json=tx)
        assert r.status_code == 200, r.text
        answers[tx["transaction_id"]] = r.json()
    config = ConsumerConfig(
        broker.bootstrap, "transactions.scored", f"g-{schema}", DATABASE_URL, schema
    )
    assert asyncio.run(consume_until(config, 40, 0)) == (40, 0)
    return answers


def test_one_transaction_comes_back_with_its_request_and_exact_response(
    scored: dict[str, Any], audited_client: TestClient
) -> None:
    r = audited_client.get("/v1/transactions/h05")
    assert r.status_code == 200, r.text
    found = r.json()
    assert found["response"] == scored["h05"]
    assert found["request"]["card_id"] == "card_h1"
    assert found["request"]["amount"] == 20 + 37 * 5
    assert found["risk_tier"] == scored["h05"]["risk_tier"]
    assert found["labels"] == []
    assert audited_client.get("/v1/transactions/nope").status_code == 404
    assert audited_client.get("/v1/transactions/bad id!").status_code == 422
    assert (
        audited_client.get("/v1/transactions/h05", headers={"Authorization": ""}).status_code == 401
    )


def test_pages_cover_every_matching_decision_once_newest_first(
    scored: dict[str, Any], audited_client: TestClient
) -> None:
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"card_id": "card_h2", "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = audited_client.get("/v1/transactions", params=params).json()
        assert len(page["items"]) <= 3
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    ids = [item["transaction_id"] for item in seen]
    assert sorted(ids) == sorted(t for t in scored if int(t[1:]) % 4 == 2)
    keys = [(item["scored_at"], item["transaction_id"]) for item in seen]
    assert keys == sorted(keys, reverse=True)

    everything = audited_client.get("/v1/transactions", params={"limit": 500}).json()
    assert len(everything["items"]) == 40
    assert everything["next_cursor"] is None
    tier = scored["h00"]["risk_tier"]
    by_tier = audited_client.get("/v1/transactions", params={"risk_tier": tier}).json()["items"]
    assert {i["transaction_id"] for i in by_tier} == {
        t for t, a in scored.items() if a["risk_tier"] == tier
    }
    middle = sorted(i["scored_at"] for i in everything["items"])[20]
    newer = audited_client.get("/v1/transactions", params={"since": middle, "limit": 500})
    assert len(newer.json()["items"]) == 20
    older = audited_client.get("/v1/transactions", params={"until": middle, "limit": 500})
    assert len(older.json()["items"]) == 20


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"risk_tier": "extreme"}, "risk_tier"),
        ({"since": "2026-11-20T09:00:00"}, "since"),
        ({"scope": "k" * 65}, "scope"),
        ({"scope": "a b"}, "scope"),
        ({"transaction_id": "bad id!"}, "transaction_id"),
    ],
)
def test_bad_filters_get_422_naming_the_field(
    audited_client: TestClient, params: dict[str, Any], field: str
) -> None:
    r = audited_client.get("/v1/transactions", params=params)
    assert r.status_code == 422, r.text
    assert field in {d["field"].split(".")[-1] for d in r.json()["detail"]}


@pytest.fixture
def history_client(
    redis_url: str, prefix: str, bundle_dir: Path, schema: str
) -> Iterator[TestClient]:
    """The API with its history in `schema` (empty) and no audit topic."""
    settings = make_settings(
        redis_url, prefix, bundle_dir, database_url=DATABASE_URL, database_schema=schema
    )
    with TestClient(create_app(settings)) as c:
        c.headers["Authorization"] = f"Bearer {API_KEY}"
        yield c


# Each of these reached PostgreSQL (or asyncpg's encoder) and failed there: a 500.
UNSTORABLE_FILTERS = [
    ({"card_id": "card\x00x"}, "card_id"),
    ({"since": "9999-12-31T23:59:59.999999-23:59"}, "since"),
    ({"until": "0001-01-01T00:00:00+23:59"}, "until"),
    ({"cursor": cursor_of(["9999-12-31T23:59:59.999999-23:59", "k", "h01"])}, "cursor"),
    ({"cursor": cursor_of(["0001-01-01T00:00:00+23:59", "k", "h01"])}, "cursor"),
    ({"cursor": cursor_of(["2026-11-20T09:00:00+00:00", "k", "h\x00"])}, "cursor"),
]
# And these were read as something else than what they say.
LOOSE_FILTERS = [
    ({"card_id": "c" * 129}, "card_id"),
    ({"card_id": "card\x85x"}, "card_id"),
    ({"since": "1795863600"}, "since"),
    ({"since": "2026-11-20"}, "since"),
    ({"until": "2026-11-20T09:00+00:00"}, "until"),
    ({"limit": "1_0"}, "limit"),
    ({"limit": "5.0"}, "limit"),
    ({"limit": " 5"}, "limit"),
    ({"limit": "\uff15"}, "limit"),
    ({"cursor": cursor_of(["2026-11-20T09:00:00", "k", "h01"])}, "cursor"),
    ({"cursor": cursor_of(["2026-11-20T09:00:00+00:00", "k", 7])}, "cursor"),
    ({"cursor": "A" * 300}, "cursor"),
]


@pytest.mark.parametrize(("params", "field"), UNSTORABLE_FILTERS + LOOSE_FILTERS)
def test_filters_postgresql_cannot_take_are_422_and_the_next_request_is_served(
    history_client: TestClient, params: dict[str, Any], field: str
) -> None:
    r = history_client.get("/v1/transactions", params=params)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "validation_error"
    assert [d["field"] for d in r.json()["detail"]] == [f"query.{field}"]
    assert history_client.get("/v1/transactions").json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("transaction_id", ["h%00", "h" * 65, "h%C2%85"])
def test_a_path_id_that_is_not_a_transaction_id_is_422(
    history_client: TestClient, transaction_id: str
) -> None:
    r = history_client.get(f"/v1/transactions/{transaction_id}")
    assert r.status_code == 422, r.text
    assert [d["field"] for d in r.json()["detail"]] == ["path.transaction_id"]


def test_strict_filters_still_take_what_the_contract_says(history_client: TestClient) -> None:
    params = {
        "since": "2026-11-20T09:00:00Z",
        "until": "2026-11-21T09:00:00.5+01:00",
        "limit": "007",
        "card_id": "card_tok_ü",
    }
    r = history_client.get("/v1/transactions", params=params)
    assert r.status_code == 200, r.text


def labels_in_redis(
    redis_url: str, prefix: str, entity: str, value: str, scope: str | None = None
) -> dict[bytes, float]:
    """The label window's transaction ids (every member in `scope`; default: the test key's)
    and their scores."""

    async def read() -> list[tuple[bytes, float]]:
        async with aredis.Redis.from_url(redis_url) as client:
            return await client.zrange(label_key(prefix, entity, value), 0, -1, withscores=True)

    tag = (key_id(API_KEY) if scope is None else scope).encode() + b":"
    members = asyncio.run(read())
    assert all(m.startswith(tag) for m, _ in members), members
    return {m.removeprefix(tag): score for m, score in members}


def read_topic(bootstrap: str, topic: str, count: int) -> list[Any]:
    async def read() -> list[Any]:
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id="t-labels"
        )
        await consumer.start()
        out: list[Any] = []
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 15
            while len(out) < count and loop.time() < deadline:
                batches = await consumer.getmany(timeout_ms=300)
                out += [m for ms in batches.values() for m in ms]
        finally:
            await consumer.stop()
        return out

    return asyncio.run(read())


def test_feedback_is_stored_once_feeds_the_label_windows_and_is_published(
    scored: dict[str, Any],
    audited_client: TestClient,
    broker: TansuBroker,
    schema: str,
    redis_url: str,
    prefix: str,
) -> None:
    reported = START + timedelta(days=9)
    report = {
        "transaction_id": "h06",
        "label": "fraud",
        "source": "chargeback",
        "reported_at": reported.isoformat(),
    }
    first = audited_client.post("/v1/feedback", json=report)
    assert first.status_code == 201, first.text
    assert first.json()["created"] is True
    assert first.json()["effective_label"] == "fraud"
    again = audited_client.post("/v1/feedback", json=report)
    assert again.status_code == 200
    assert again.json()["created"] is False
    changed = audited_client.post("/v1/feedback", json=report | {"label": "legitimate"})
    assert changed.status_code == 409

    known_ms = int(reported.timestamp() * 1000)
    # h06 is on card_h2 with the example's device, IP and merchant: every label window has it.
    assert labels_in_redis(redis_url, prefix, "card", "card_h2") == {b"h06": known_ms}
    assert labels_in_redis(redis_url, prefix, "merchant", body()["merchant_id"]) == {
        b"h06": known_ms
    }

    async def label_times_seen_at(ts: datetime) -> list[float]:
        async with aredis.Redis.from_url(redis_url) as client:
            store = RedisWindowStore(client, prefix, 60_000, replay=True)
            event = Event(
                transaction_id=f"probe{ts.day}",
                ts=int(ts.timestamp() * 1000),
                amount=1.0,
                card="card_h2",
                account=None,
                device=None,
                ip=None,
                merchant="m_probe",
                country=None,
                latitude=None,
                longitude=None,
            )
            return (await store.read_and_record([event]))[0].label_scores["card"]

    # A later transaction on the card sees the label once it is known, not before.
    assert asyncio.run(label_times_seen_at(reported + timedelta(hours=1))) == [known_ms]
    assert asyncio.run(label_times_seen_at(reported - timedelta(days=2))) == []

    # An analyst clears it later: the latest report wins and the label leaves the windows.
    cleared = audited_client.post(
        "/v1/feedback",
        json=report
        | {
            "source": "analyst",
            "label": "legitimate",
            "reported_at": (reported + timedelta(days=1)).isoformat(),
        },
    )
    assert cleared.status_code == 201
    assert cleared.json()["effective_label"] == "legitimate"
    assert labels_in_redis(redis_url, prefix, "card", "card_h2") == {}

    stored = query(schema, "SELECT source, label FROM feedback ORDER BY source")
    assert [tuple(r) for r in stored] == [("analyst", "legitimate"), ("chargeback", "fraud")]
    detail = audited_client.get("/v1/transactions/h06").json()
    assert [(x["source"], x["label"]) for x in detail["labels"]] == [
        ("chargeback", "fraud"),
        ("analyst", "legitimate"),
    ]

    published = read_topic(broker.bootstrap, "transactions.labels", 3)
    events = [orjson.loads(m.value) for m in published]
    assert {m.key for m in published} == {b"card_h2"}
    assert [(e["source"], e["label"]) for e in events] == [
        ("chargeback", "fraud"),
        ("chargeback", "fraud"),  # the retry is published again; downstream is idempotent
        ("analyst", "legitimate"),
    ]
    assert events[0] == {
        "card_id": "card_h2",
        "label": "fraud",
        "reported_at": "2026-11-29T09:00:00.000000Z",
        "schema": 1,
        "scope": key_id(API_KEY),
        "source": "chargeback",
        "transaction_id": "h06",
    }


BAD_FEEDBACK = [
    ({"transaction_id": "never-scored"}, 404),
    ({"label": "maybe"}, 422),
    ({"source": ""}, 422),
    ({"reported_at": "yesterday"}, 422),
    ({"extra": 1}, 422),
    ({"reported_at": "0001-01-01T00:00:00+23:59"}, 422),
    ({"reported_at": "9999-12-31T23:59:59.999999-23:59"}, 422),
    ({"reported_at": 1795863600}, 422),
    ({"source": "chargeback\x00"}, 422),
    ({"scope": "a b"}, 422),
    ({"scope": "k" * 65}, 422),
    ({"scope": "someone-else"}, 404),  # no such scope holds h01
]


def test_bad_feedback_is_refused_and_nothing_is_written(
    scored: dict[str, Any], audited_client: TestClient, schema: str, redis_url: str, prefix: str
) -> None:
    for change, status in BAD_FEEDBACK:
        report = {"transaction_id": "h01", "label": "fraud", "source": "chargeback"} | change
        r = audited_client.post("/v1/feedback", json=report)
        assert r.status_code == status, (change, r.text)
    assert query(schema, "SELECT count(*) FROM feedback")[0][0] == 0
    assert labels_in_redis(redis_url, prefix, "card", "card_h1") == {}


def test_history_without_postgresql_is_503_and_scoring_goes_on(
    redis_url: str, prefix: str, bundle_dir: Path
) -> None:
    settings = make_settings(
        redis_url,
        prefix,
        bundle_dir,
        database_url=f"postgresql://postgres@127.0.0.1:{free_port()}/x",
    )
    with TestClient(create_app(settings)) as c:
        c.headers["Authorization"] = f"Bearer {API_KEY}"
        assert c.get("/v1/transactions/h01").status_code == 503
        r = c.post("/v1/feedback", json={"transaction_id": "h01", "label": "fraud", "source": "x"})
        assert r.status_code == 503
        assert r.json()["error"] == "unavailable"
        assert c.post("/v1/score", json=body(transaction_id="no-db")).status_code == 200


def test_feedback_before_its_decision_is_stored_gets_503_then_is_accepted(
    broker: TansuBroker, schema: str, audited_client: TestClient
) -> None:
    """Scored, not yet written by the consumer: the label must not be lost to a 404."""
    assert audited_client.post("/v1/score", json=body(transaction_id="early")).status_code == 200
    label = {"transaction_id": "early", "label": "fraud", "source": "chargeback"}
    r = audited_client.post("/v1/feedback", json=label)
    assert r.status_code == 503, r.text
    assert r.headers["Retry-After"] == "1"
    assert "not in the history yet" in r.json()["detail"]
    config = ConsumerConfig(
        broker.bootstrap, "transactions.scored", f"g-{schema}", DATABASE_URL, schema
    )
    assert asyncio.run(consume_until(config, 1, 0)) == (1, 0)
    assert query(schema, "SELECT count(*) FROM feedback")[0][0] == 0  # nothing written before
    assert audited_client.post("/v1/feedback", json=label).status_code == 201
    assert (
        audited_client.post("/v1/feedback", json=label | {"transaction_id": "never"}).status_code
        == 404
    )


def test_a_transaction_takes_labels_from_a_bounded_number_of_sources(
    scored: dict[str, Any], audited_client: TestClient, schema: str
) -> None:
    """A review key could add a label row per new `source` without end (issue 22, finding
    10): a new source beyond FRAUD_MAX_LABEL_SOURCES (20) is 409 and stores nothing; the
    sources it has may still report again."""
    report = {"transaction_id": "h03", "label": "fraud"}
    for n in range(20):
        r = audited_client.post("/v1/feedback", json=report | {"source": f"s{n}"})
        assert r.status_code == 201, r.text
    refused = audited_client.post("/v1/feedback", json=report | {"source": "s20"})
    assert refused.status_code == 409, refused.text
    assert "20 sources" in refused.json()["detail"]
    assert query(schema, "SELECT count(*) FROM feedback")[0][0] == 20
    again = audited_client.post("/v1/feedback", json=report | {"source": "s7"})
    assert again.status_code == 200, again.text
    # Another transaction has its own bound.
    other = audited_client.post(
        "/v1/feedback", json=report | {"transaction_id": "h04", "source": "s20"}
    )
    assert other.status_code == 201, other.text


def test_concurrent_new_sources_at_the_bound_store_one(scored: dict[str, Any], schema: str) -> None:
    """Reports on one transaction take turns (its id row is locked to the end of the
    report's transaction): with one place left, a second new source waits for the first to
    commit, then is refused."""
    scope = key_id(API_KEY)

    async def race() -> BaseException | Stored:
        first, second = [
            await asyncpg.connect(DATABASE_URL, server_settings={"search_path": schema})
            for _ in range(2)
        ]
        try:
            async with first.transaction():
                await store_feedback(first, Feedback(scope, "h05", "fraud", "a", None), 2)
            async with first.transaction():
                await store_feedback(first, Feedback(scope, "h05", "fraud", "b", None), 2)
                late = asyncio.create_task(
                    _report(second, Feedback(scope, "h05", "fraud", "c", None))
                )
                pid = second.get_server_pid()
                while not await first.fetchval(
                    "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1", pid
                ):
                    assert not late.done(), "the second report did not wait for the first"
                    await asyncio.sleep(0.01)
            return (await asyncio.gather(late, return_exceptions=True))[0]
        finally:
            await first.close()
            await second.close()

    assert isinstance(asyncio.run(race()), TooManyLabels)
    assert query(schema, "SELECT count(*) FROM feedback WHERE transaction_id = 'h05'")[0][0] == 2


async def _report(conn: asyncpg.Connection, feedback: Feedback) -> Stored:
    async with conn.transaction():
        return await store_feedback(conn, feedback, 2)
