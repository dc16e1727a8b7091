"""Lists on real Redis and PostgreSQL: the routes (create, read, paginate, delete, refusals
that change nothing), the window script's look-up (exact, CIDR v4 / v6, expiry without a
restart, deletion, in the batch's one command) and the reconciliation of Redis with
PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis
from fastapi.testclient import TestClient

from app.auth import key_id
from app.list_sync import ListSync
from app.main import create_app
from app.schemas.score import ScoreRequest
from controls.hits import ListHit
from controls.list_store import RedisListStore
from controls.lists import ListEntry, checksum_key, lengths_key, list_key
from features.redis_store import RedisWindowStore
from features.window_format import WindowRead
from localservers import RedisServer, free_port
from persistence.database import Database
from tests.cursors import cursor_of
from tests.integration.conftest import API_KEY, make_settings
from tests.integration.test_score_api import body
from tests.pg import DATABASE_URL, query

SYNC_S = 0.2


def settings_for(redis_url: str, prefix: str, bundle_dir: Path, schema: str) -> Any:
    return make_settings(
        redis_url,
        prefix,
        bundle_dir,
        database_url=DATABASE_URL,
        database_schema=schema,
        list_sync_s=SYNC_S,
    )


@pytest.fixture
def api(redis_url: str, prefix: str, bundle_dir: Path, schema: str) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(redis_url, prefix, bundle_dir, schema))) as c:
        c.headers["Authorization"] = f"Bearer {API_KEY}"
        assert c.get("/v1/lists").status_code == 200  # the schema migrated
        # The start-up's rebuild (Redis has no lists yet) done: tests start in step.
        with redis.Redis.from_url(redis_url) as r:
            wait_for(lambda: r.exists(checksum_key(prefix)))
        yield c


def entry(**changes: Any) -> dict[str, Any]:
    out = {"entity": "card", "value": "card_x", "action": "block", "reason": "card testing"}
    out.update(changes)
    return {k: v for k, v in out.items() if v is not None}


def in_future(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def rows(schema: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in query(schema, "SELECT * FROM list_entries ORDER BY id")]


def redis_lists(redis_url: str, prefix: str) -> dict[bytes, bytes]:
    with redis.Redis.from_url(redis_url) as r:
        return r.hgetall(list_key(prefix))  # type: ignore[return-value]


def test_create_read_and_delete(api: TestClient, schema: str, redis_url: str, prefix: str) -> None:
    r = api.post("/v1/lists", json=entry(expires_at="2030-01-01T00:00:00+01:00"))
    assert r.status_code == 201, r.text
    made = r.json()
    assert set(made) == {
        "id",
        "entity",
        "value",
        "action",
        "reason",
        "expires_at",
        "created_at",
        "created_by",
        "deleted_at",
        "deleted_by",
    }
    assert made["entity"] == "card"
    assert made["value"] == "card_x"
    assert made["action"] == "block"
    assert made["created_by"] == key_id(API_KEY)
    assert datetime.fromisoformat(made["expires_at"]) == datetime(2029, 12, 31, 23, tzinfo=UTC)
    assert made["deleted_at"] is None
    assert redis_lists(redis_url, prefix) == {
        b"card:card_x": f"{made['id']} block 1893452400000".encode()
    }
    assert api.get(f"/v1/lists/{made['id']}").json() == made
    assert api.get("/v1/lists").json() == {"items": [made], "next_cursor": None}

    assert api.delete(f"/v1/lists/{made['id']}").status_code == 204
    gone = api.get(f"/v1/lists/{made['id']}").json()
    assert gone["deleted_by"] == key_id(API_KEY)
    assert gone["deleted_at"] is not None
    assert api.get("/v1/lists").json()["items"] == []
    assert redis_lists(redis_url, prefix) == {}
    again = api.delete(f"/v1/lists/{made['id']}")
    assert again.status_code == 404
    assert again.json()["error"] == "not_found"
    assert len(rows(schema)) == 1  # the record stays


def test_filters_and_keyset_pages(api: TestClient) -> None:
    made = []
    for i in range(5):
        action = ("block", "allow")[i % 2]
        r = api.post("/v1/lists", json=entry(value=f"c{i}", action=action))
        made.append(r.json())
    r = api.post("/v1/lists", json=entry(entity="ip", value="2001:DB8::/32", action="review"))
    assert r.json()["value"] == "2001:db8::/32"
    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"entity": "card", "limit": 2} | (
            {"cursor": cursor} if cursor else {}
        )
        page = api.get("/v1/lists", params=params).json()
        assert len(page["items"]) <= 2
        seen += page["items"]
        if (cursor := page["next_cursor"]) is None:
            break
    assert seen == made[::-1]  # newest first, every entry once
    blocks = api.get("/v1/lists", params={"action": "block"}).json()["items"]
    assert [x["value"] for x in blocks] == ["c4", "c2", "c0"]
    ips = api.get("/v1/lists", params={"entity": "ip"}).json()["items"]
    assert [x["action"] for x in ips] == ["review"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"entity": "email"}, "entity"),
        ({"action": "decline"}, "action"),
        ({"entity": "ip", "value": "10.0.0.1/8"}, "value"),
        ({"entity": "ip", "value": "10.0.0.0/40"}, "value"),
        ({"entity": "ip", "value": "not-an-ip"}, "value"),
        ({"value": ""}, "value"),
        ({"value": "a\tb"}, "value"),
        ({"reason": ""}, "reason"),
        ({"expires_at": "2020-01-01T00:00:00Z"}, "expires_at"),
        ({"expires_at": "1795863600"}, "expires_at"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_entries_are_422_and_change_nothing(
    api: TestClient, schema: str, redis_url: str, prefix: str, changes: dict[str, Any], field: str
) -> None:
    r = api.post("/v1/lists", json=entry(**changes))
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "validation_error"
    assert [e["field"] for e in r.json()["detail"]] == [field]
    assert rows(schema) == []
    assert redis_lists(redis_url, prefix) == {}


@pytest.mark.parametrize(
    ("value", "setting"),
    [
        ("0.0.0.0/0", "FRAUD_LIST_MIN_IPV4_PREFIX"),
        ("0.0.0.0/1", "FRAUD_LIST_MIN_IPV4_PREFIX"),
        ("8.0.0.0/7", "FRAUD_LIST_MIN_IPV4_PREFIX"),
        ("::ffff:0:0/96", "FRAUD_LIST_MIN_IPV4_PREFIX"),  # every IPv4 address, mapped
        ("::/0", "FRAUD_LIST_MIN_IPV6_PREFIX"),
        ("2000::/3", "FRAUD_LIST_MIN_IPV6_PREFIX"),
        ("2000::/15", "FRAUD_LIST_MIN_IPV6_PREFIX"),
    ],
)
def test_ranges_wider_than_the_minimum_prefix_are_422_and_change_nothing(
    api: TestClient, schema: str, redis_url: str, prefix: str, value: str, setting: str
) -> None:
    r = api.post("/v1/lists", json=entry(entity="ip", value=value))
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "validation_error"
    (detail,) = r.json()["detail"]
    assert detail["field"] == "value"
    assert setting in detail["message"]
    assert rows(schema) == []
    assert redis_lists(redis_url, prefix) == {}


def test_the_minimum_prefixes_are_settings(
    redis_url: str, prefix: str, bundle_dir: Path, schema: str
) -> None:
    """The defaults take a /8 and a /16; raised, the same ranges are refused."""
    settings = settings_for(redis_url, prefix, bundle_dir, schema)
    with TestClient(create_app(settings)) as c:
        c.headers["Authorization"] = f"Bearer {API_KEY}"
        for value in ("10.0.0.0/8", "2001::/16"):
            r = c.post("/v1/lists", json=entry(entity="ip", value=value))
            assert r.status_code == 201, r.text
    strict = settings.model_copy(update={"list_min_ipv4_prefix": 16, "list_min_ipv6_prefix": 32})
    with TestClient(create_app(strict)) as c:
        c.headers["Authorization"] = f"Bearer {API_KEY}"
        for value in ("172.16.0.0/12", "2001:db8::/31"):
            r = c.post("/v1/lists", json=entry(entity="ip", value=value, action="review"))
            assert r.status_code == 422, r.text
        assert (
            c.post("/v1/lists", json=entry(entity="ip", value="172.16.0.0/16")).status_code == 201
        )
    assert len(rows(schema)) == 3


def test_the_same_entry_twice_is_409(api: TestClient, schema: str) -> None:
    first = api.post("/v1/lists", json=entry()).json()
    r = api.post("/v1/lists", json=entry(reason="again"))
    assert r.status_code == 409
    assert f"entry {first['id']}" in r.json()["detail"]
    # Another action for the same card is another entry.
    assert api.post("/v1/lists", json=entry(action="review")).status_code == 201
    assert len(rows(schema)) == 2


def test_bad_reads_are_4xx(api: TestClient) -> None:
    for params, field in (
        ({"entity": "email"}, "query.entity"),
        ({"action": "x"}, "query.action"),
        ({"limit": "0"}, "query.limit"),
        ({"limit": "1_0"}, "query.limit"),
        ({"cursor": cursor_of(["list", "1"])}, "query.cursor"),
        ({"cursor": "!!"}, "query.cursor"),
    ):
        r = api.get("/v1/lists", params=params)
        assert r.status_code == 422, (params, r.text)
        assert r.json()["detail"][0]["field"] == field
    assert api.get("/v1/lists/999").status_code == 404
    assert api.get("/v1/lists/abc").status_code == 422
    assert api.delete("/v1/lists/0").status_code == 422


def test_redis_unreachable_is_503_and_changes_nothing(
    api: TestClient, bundle_dir: Path, schema: str, prefix: str
) -> None:
    kept = api.post("/v1/lists", json=entry(value="card_kept")).json()
    before = rows(schema)
    dead = f"redis://127.0.0.1:{free_port()}/0"
    with TestClient(create_app(settings_for(dead, prefix, bundle_dir, schema))) as c:
        c.headers["Authorization"] = f"Bearer {API_KEY}"
        for r in (c.post("/v1/lists", json=entry()), c.delete(f"/v1/lists/{kept['id']}")):
            assert r.status_code == 503, r.text
            assert r.headers["Retry-After"] == "1"
    assert rows(schema) == before


# The window script's look-up.


def event(**changes: Any) -> Any:
    return ScoreRequest.model_validate(body(**changes)).to_transaction().online("s").event


def read(redis_url: str, prefix: str, *events: Any) -> list[WindowRead]:
    async def run() -> list[WindowRead]:
        async with aioredis.Redis.from_url(redis_url) as client:
            store = RedisWindowStore(client, prefix, 60_000, replay=True)
            return await store.read_and_record(list(events))

    return asyncio.run(run())


def hits(read_: WindowRead) -> set[tuple[str, str]]:
    return {(h.entity, h.action) for h in read_.lists}


def test_the_script_returns_every_matching_entry(
    api: TestClient, redis_url: str, prefix: str
) -> None:
    ids = {}
    for e in (
        entry(value="card_l", action="block"),
        entry(value="card_l", action="allow"),
        entry(entity="account", value="acct_l", action="review"),
        entry(entity="device", value="dev_l", action="block"),
        entry(entity="merchant", value="m_l", action="allow"),
        entry(entity="ip", value="10.1.128.0/17", action="review"),
        entry(entity="ip", value="10.1.2.3", action="block"),
        entry(entity="ip", value="2001:db8:8000::/33", action="block"),
    ):
        r = api.post("/v1/lists", json=e)
        assert r.status_code == 201, r.text
        ids[e["entity"], e["value"], e["action"]] = str(r.json()["id"])
    full, in_range, v6, plain = read(
        redis_url,
        prefix,
        event(
            transaction_id="l1",
            card_id="card_l",
            account_id="acct_l",
            device_id="dev_l",
            merchant_id="m_l",
            ip_address="10.1.2.3",
        ),
        event(transaction_id="l2", ip_address="10.1.255.1"),
        event(transaction_id="l3", ip_address="2001:db8:ffff::1"),
        event(transaction_id="l4", ip_address="10.1.127.255"),  # just below the /17
    )
    assert set(full.lists) == {
        ListHit(ids["card", "card_l", "block"], "card", "block"),
        ListHit(ids["card", "card_l", "allow"], "card", "allow"),
        ListHit(ids["account", "acct_l", "review"], "account", "review"),
        ListHit(ids["device", "dev_l", "block"], "device", "block"),
        ListHit(ids["merchant", "m_l", "allow"], "merchant", "allow"),
        ListHit(ids["ip", "10.1.2.3", "block"], "ip", "block"),
    }
    assert in_range.lists == (ListHit(ids["ip", "10.1.128.0/17", "review"], "ip", "review"),)
    assert v6.lists == (ListHit(ids["ip", "2001:db8:8000::/33", "block"], "ip", "block"),)
    assert plain.lists == ()
    # An IPv4 range never matches an IPv6 address, even one that embeds it.
    (mapped,) = read(redis_url, prefix, event(transaction_id="l5", ip_address="::a01:ff01"))
    assert mapped.lists == ()


def test_expiry_applies_without_a_restart_and_deletion_at_once(
    api: TestClient, redis_url: str, prefix: str
) -> None:
    short = api.post("/v1/lists", json=entry(value="card_e", expires_at=in_future(1.0))).json()
    kept = api.post("/v1/lists", json=entry(value="card_d", action="review")).json()
    first, other = read(
        redis_url,
        prefix,
        event(transaction_id="e1", card_id="card_e"),
        event(transaction_id="d1", card_id="card_d"),
    )
    assert first.lists == (ListHit(str(short["id"]), "card", "block"),)
    assert other.lists == (ListHit(str(kept["id"]), "card", "review"),)
    assert api.delete(f"/v1/lists/{kept['id']}").status_code == 204
    time.sleep(
        max(0.0, datetime.fromisoformat(short["expires_at"]).timestamp() - time.time()) + 0.05
    )
    later, deleted = read(
        redis_url,
        prefix,
        event(transaction_id="e2", card_id="card_e"),
        event(transaction_id="d2", card_id="card_d"),
    )
    assert later.lists == ()
    assert deleted.lists == ()
    # The clean-up takes the expired entry out of Redis, the checksum unchanged.
    with redis.Redis.from_url(redis_url) as r:
        before = r.get(checksum_key(prefix))

    async def purge() -> int:
        async with aioredis.Redis.from_url(redis_url) as client:
            return await RedisListStore(client, prefix).purge_expired()

    assert asyncio.run(purge()) == 1
    assert redis_lists(redis_url, prefix) == {}
    with redis.Redis.from_url(redis_url) as r:
        assert r.get(checksum_key(prefix)) == before


def test_the_look_up_rides_on_the_batch_s_one_command(bundle_dir: Path) -> None:
    """On a Redis of its own, so every command counted is this test's."""
    server = RedisServer().start()
    try:
        url = server.url

        async def run() -> dict[str, int]:
            async with aioredis.Redis.from_url(url) as client:
                lists = RedisListStore(client, "own")
                now = datetime.now(UTC)
                for i, (entity, value) in enumerate(
                    (("card", "card_o"), ("ip", "10.0.0.0/8"), ("ip", "2001:db8::/32"))
                ):
                    await lists.publish(
                        ListEntry(i + 1, entity, value, "block", "r", None, now, "k")
                    )
                store = RedisWindowStore(client, "own", 60_000, replay=True)
                await store.load_script()
                await client.config_resetstat()
                batch = [
                    event(transaction_id=f"o{i}", card_id="card_o", ip_address=ip)
                    for i, ip in enumerate(("10.2.3.4", "2001:db8::7", "192.0.2.1"))
                ]
                reads = await store.read_and_record(batch)
                assert [len(r.lists) for r in reads] == [2, 2, 1]
                stats = await client.info("commandstats")
                return {k: v["calls"] for k, v in stats.items()}

        calls = asyncio.run(run())
        # One EVALSHA from the client; INFO is this check's own (and so is the hand-shake,
        # HELLO, of the connection it opens: the store holds the one the client had).
        # Inside the script, per batch: EXISTS and HKEYS once; per transaction: one HMGET.
        assert calls.get("cmdstat_evalsha") == 1, calls
        client_commands = {k for k in calls if "|" not in k} - {
            "cmdstat_evalsha",
            "cmdstat_info",
            "cmdstat_hello",
        }
        script_commands = {
            "cmdstat_exists",
            "cmdstat_hkeys",
            "cmdstat_hmget",
            "cmdstat_get",
            "cmdstat_set",
            "cmdstat_zrevrangebyscore",
            "cmdstat_pexpire",
            "cmdstat_hget",
            "cmdstat_hset",
            "cmdstat_hlen",
            "cmdstat_hincrby",
        }
        assert client_commands <= script_commands, client_commands
        assert calls["cmdstat_exists"] == 1
        assert calls["cmdstat_hkeys"] == 1
    finally:
        server.cleanup()


# Reconciliation.


def wait_for(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_lost_lists_are_rebuilt_from_postgresql(
    api: TestClient, redis_url: str, prefix: str
) -> None:
    card = api.post("/v1/lists", json=entry(value="card_r")).json()
    net = api.post("/v1/lists", json=entry(entity="ip", value="10.0.0.0/8", action="review")).json()
    expired = api.post("/v1/lists", json=entry(value="card_gone", expires_at=in_future(0.5))).json()
    wait_for(lambda: datetime.now(UTC) > datetime.fromisoformat(expired["expires_at"]))
    with redis.Redis.from_url(redis_url) as r:
        before = (
            r.hgetall(list_key(prefix)),
            r.hgetall(lengths_key(prefix)),
            r.get(checksum_key(prefix)),
        )
        r.delete(list_key(prefix), lengths_key(prefix), checksum_key(prefix))  # a flush
        wait_for(lambda: r.exists(checksum_key(prefix)))
        after = (
            r.hgetall(list_key(prefix)),
            r.hgetall(lengths_key(prefix)),
            r.get(checksum_key(prefix)),
        )
    # The same lists, less the expired entry (the checksum still counts it until deleted).
    del before[0][b"card:card_gone"]
    assert after == before
    assert after[1] == {b"4/8": b"1"}
    (hit,) = read(
        redis_url, prefix, event(transaction_id="r1", card_id="card_r", ip_address="10.9.9.9")
    )
    assert set(hit.lists) == {
        ListHit(str(card["id"]), "card", "block"),
        ListHit(str(net["id"]), "ip", "review"),
    }


def test_a_change_postgresql_never_committed_is_undone(
    api: TestClient, redis_url: str, prefix: str
) -> None:
    """A process that published, then failed to commit (or crashed): the checksums differ
    on two checks in a row, and Redis is rebuilt without it."""
    api.post("/v1/lists", json=entry(value="card_real"))

    async def phantom() -> None:
        async with aioredis.Redis.from_url(redis_url) as client:
            ghost = ListEntry(
                10**6, "card", "card_ghost", "block", "r", None, datetime.now(UTC), "k"
            )
            await RedisListStore(client, prefix).publish(ghost)

    asyncio.run(phantom())
    assert b"card:card_ghost" in redis_lists(redis_url, prefix)
    wait_for(lambda: b"card:card_ghost" not in redis_lists(redis_url, prefix))
    assert set(redis_lists(redis_url, prefix)) == {b"card:card_real"}
    assert api.app.state.list_sync.rebuilds >= 1  # type: ignore[attr-defined]


def test_a_write_published_after_a_flush_is_not_erased_before_its_commit(
    api: TestClient, redis_url: str, prefix: str, schema: str
) -> None:
    """Redis lost its lists, then a writer published (it commits just after): the next
    check must leave that entry alone; only if it lasts (never committed) is Redis rebuilt."""
    api.post("/v1/lists", json=entry(value="card_real"))
    api.portal.call(api.app.state.list_sync.stop)  # type: ignore[attr-defined,union-attr]
    with redis.Redis.from_url(redis_url) as r:
        r.delete(list_key(prefix), lengths_key(prefix), checksum_key(prefix))  # a flush
    pending = ListEntry(10**6, "card", "card_pending", "block", "r", None, datetime.now(UTC), "k")

    async def checks() -> list[bool]:
        database = Database(DATABASE_URL, schema)
        async with aioredis.Redis.from_url(redis_url) as client:
            store = RedisListStore(client, prefix)
            await store.publish(pending)
            sync = ListSync(store, database, SYNC_S)
            first = await sync.check()
            kept = b"card:card_pending" in await client.hkeys(list_key(prefix))
            second = await sync.check()
        await database.close()
        return [first, kept, second]

    assert asyncio.run(checks()) == [False, True, True]
    # It never committed: the rebuild took it out and restored what PostgreSQL holds.
    assert set(redis_lists(redis_url, prefix)) == {b"card:card_real"}


def test_concurrent_rebuilds_leave_one_whole_copy(
    api: TestClient, redis_url: str, prefix: str, schema: str
) -> None:
    """Two processes' rebuilds at once: one whole copy (the MULTI is atomic, watched)."""
    for i in range(20):
        api.post("/v1/lists", json=entry(value=f"card_{i}"))
    expected = redis_lists(redis_url, prefix)
    # The app's own sync would rebuild too (and, in one CI run, first): only ours race.
    api.portal.call(api.app.state.list_sync.stop)  # type: ignore[attr-defined,union-attr]
    with redis.Redis.from_url(redis_url) as r:
        r.delete(list_key(prefix), checksum_key(prefix))

    async def both() -> list[bool]:
        databases = [Database(DATABASE_URL, schema) for _ in range(2)]
        async with aioredis.Redis.from_url(redis_url) as client:
            syncs = [ListSync(RedisListStore(client, prefix), db, SYNC_S) for db in databases]
            done = await asyncio.gather(*(s.rebuild(None) for s in syncs))
        for db in databases:
            await db.close()
        return list(done)

    done = asyncio.run(both())
    assert sum(done) == 1
    assert redis_lists(redis_url, prefix) == expected


def test_writes_keep_redis_in_step_without_rebuilds(
    api: TestClient, redis_url: str, prefix: str, schema: str
) -> None:
    """Each write moves Redis's checksum exactly as PostgreSQL's: after the start-up's one
    rebuild (Redis had no lists), none."""
    sync = api.app.state.list_sync  # type: ignore[attr-defined]
    wait_for(lambda: sync.rebuilds == 1)
    made = [
        api.post("/v1/lists", json=entry(value=f"card_s{i}", expires_at=in_future(60))).json()
        for i in range(3)
    ]
    made.append(api.post("/v1/lists", json=entry(entity="ip", value="10.0.0.0/8")).json())
    api.delete(f"/v1/lists/{made[0]['id']}")
    api.delete(f"/v1/lists/{made[3]['id']}")
    time.sleep(SYNC_S * 4)
    assert sync.rebuilds == 1
    (total,) = query(
        schema, "SELECT sum(checksum) % 281474976710656 FROM list_entries WHERE deleted_at IS NULL"
    )
    with redis.Redis.from_url(redis_url) as r:
        assert int(r.get(checksum_key(prefix))) == int(total[0])
        assert r.hgetall(lengths_key(prefix)) == {}


def test_changes_are_logged_by_key_id_never_by_value(
    api: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "fraud.security")
    made = api.post("/v1/lists", json=entry(value="card_secret_77")).json()
    api.delete(f"/v1/lists/{made['id']}")
    lines = [r for r in caplog.records if getattr(r, "event", None) == "admin"]
    assert [(r.action, r.key_id, r.entry_id, r.entity, r.list_action) for r in lines] == [  # type: ignore[attr-defined]
        ("list_add", key_id(API_KEY), made["id"], "card", "block"),
        ("list_delete", key_id(API_KEY), made["id"], "card", "block"),
    ]
    assert "card_secret_77" not in caplog.text
