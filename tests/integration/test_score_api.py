"""POST /v1/score against a real Redis: contract, refusals, idempotency, round trips."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path
from typing import Any, ClassVar

import orjson
import pytest
import redis
import redis.asyncio as aioredis
import uvloop
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from app.auth import key_id
from app.lifespan import redis_client
from app.main import create_app
from app.schemas.score import EXAMPLE, ScoreRequest
from app.settings import Settings
from features.window_format import (
    FORMAT,
    decision_key,
    entity_key,
    seen_key,
    stored_state,
)
from tests.integration.conftest import API_KEY, keys_of, make_settings
from tests.waiting import eventually

SCOPE = key_id(API_KEY)  # the scope of the transaction ids the test key sends


def body(**changes: Any) -> dict[str, Any]:
    out = dict(EXAMPLE)
    out.update(changes)
    return {k: v for k, v in out.items() if v is not None}


def refusals(status: str) -> float:
    return REGISTRY.get_sample_value("fraud_refused_total", {"status": status}) or 0.0


def test_a_valid_transaction_gets_score_tier_decision_and_version(client: TestClient) -> None:
    r = client.post("/v1/score", json=body())
    assert r.status_code == 200, r.text
    answer = r.json()
    assert set(answer) == {
        "transaction_id",
        "score",
        "risk_tier",
        "decision",
        "decision_source",
        "rules",
        "list",
        "reasons",
        "components",
        "model_version",
        "degraded",
        "latency_ms",
    }
    assert (answer["decision_source"], answer["rules"], answer["list"]) == ("model", [], None)
    assert 0 <= answer["score"] <= 1
    assert answer["risk_tier"] in {"low", "medium", "high", "critical"}
    assert (
        answer["decision"]
        == {"low": "approve", "medium": "review", "high": "review", "critical": "decline"}[
            answer["risk_tier"]
        ]
    )
    assert set(answer["components"]) == {"xgboost", "isolation_forest"}
    assert answer["degraded"] is False


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"amount": -1}, "amount"),
        ({"amount": "12.50"}, "amount"),
        ({"timestamp": "2026-11-28T12:00:00"}, "timestamp"),
        ({"timestamp": 1795863600}, "timestamp"),
        ({"currency": "eur"}, "currency"),
        ({"channel": "fax"}, "channel"),
        ({"transaction_id": "bad id"}, "transaction_id"),
        ({"merchant_category": "57"}, "merchant_category"),
        ({"ip_address": "300.1.1.1"}, "ip_address"),
        ({"card_id": "a\x1fb"}, "card_id"),
        ({"card_id": "a\x85b"}, "card_id"),
        ({"device_id": "d" * 129}, "device_id"),
        ({"ip_address": "fe80::1%\u0000\nInjected: yes"}, "ip_address"),
        ({"ip_address": "fe80::1%eth0"}, "ip_address"),
        ({"ip_address": "1" * 10_000}, "ip_address"),
        ({"timestamp": "1795863600"}, "timestamp"),
        ({"timestamp": "9999-12-31T23:59:59.999999-23:59"}, "timestamp"),
        ({"longitude": None}, "body"),
        ({"card_id": None}, "card_id"),
    ],
)
def test_invalid_input_is_422_naming_the_field_and_writes_nothing(
    client: TestClient, redis_url: str, prefix: str, changes: dict[str, Any], field: str
) -> None:
    before = keys_of(redis_url, prefix)
    refused = refusals("422")
    r = client.post("/v1/score", json=body(**changes))
    assert r.status_code == 422
    assert r.json()["error"] == "validation_error"
    assert field in [d["field"] for d in r.json()["detail"]]
    assert keys_of(redis_url, prefix) == before
    assert refusals("422") == refused + 1


def test_an_ip_address_counts_under_its_normalised_spelling(
    client: TestClient, redis_url: str, prefix: str
) -> None:
    first = client.post(
        "/v1/score", json=body(transaction_id="ip1", ip_address="::ffff:203.0.113.7")
    )
    assert first.status_code == 200, first.text
    again = client.post("/v1/score", json=body(transaction_id="ip2", ip_address="::FFFF:cb00:7107"))
    assert again.status_code == 200, again.text
    ip_keys = {k for k in keys_of(redis_url, prefix) if b"{ip:" in k}
    assert ip_keys == {
        entity_key(prefix, "ip", "203.0.113.7").encode(),
    }


RAW = orjson.dumps(body())


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (RAW[:-1] + b',"amount":5}', "amount"),
        (RAW[:-1] + b',"amount" :\n 5}', "amount"),
        (RAW[:-1] + b',"note":{"a":1,"a":2}}', "a"),
        (RAW[:-1] + b',"card_id":"card_tok_8f3a"}', "card_id"),
    ],
)
def test_a_repeated_key_is_422_naming_it_and_writes_nothing(
    client: TestClient, redis_url: str, prefix: str, raw: bytes, field: str
) -> None:
    r = client.post("/v1/score", content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json() == {
        "error": "validation_error",
        "detail": [
            {"field": field, "message": "the key appears more than once", "type": "duplicate_key"}
        ],
    }
    assert keys_of(redis_url, prefix) == set()


@pytest.mark.parametrize(
    "raw",
    [
        RAW[:-1] + b',"note":{"a":1,"b":{"a":2}}}',  # unknown fields: the slower check
        RAW[:-1] + b',"note":"say \\":\\" twice"}',  # an escaped quote before a colon
        orjson.dumps(body(), option=orjson.OPT_INDENT_2),
    ],
)
def test_bodies_without_repeated_keys_are_scored(client: TestClient, raw: bytes) -> None:
    r = client.post("/v1/score", content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded", "application/jsonx"]
)
def test_a_body_not_sent_as_json_is_415_and_writes_nothing(
    client: TestClient, redis_url: str, prefix: str, content_type: str | None
) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    r = client.post("/v1/score", content=RAW, headers=headers)
    assert r.status_code == 415, r.text
    assert r.json()["error"] == "unsupported_media_type"
    assert keys_of(redis_url, prefix) == set()
    charset = {"Content-Type": "Application/JSON; charset=utf-8"}
    assert client.post("/v1/score", content=RAW, headers=charset).status_code == 200


def test_unknown_routes_and_methods_answer_the_error_envelope(client: TestClient) -> None:
    missing = client.get("/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.json() == {"error": "not_found", "detail": "no such route"}
    wrong = client.get("/v1/score")
    assert wrong.status_code == 405
    assert wrong.json() == {"error": "method_not_allowed", "detail": "GET is not allowed here"}
    assert wrong.headers["allow"] == "POST"


def test_malformed_json_is_422(client: TestClient, redis_url: str, prefix: str) -> None:
    r = client.post("/v1/score", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 422
    assert keys_of(redis_url, prefix) == set()


def test_an_oversized_body_is_413_and_writes_nothing(
    client: TestClient, redis_url: str, prefix: str
) -> None:
    r = client.post(
        "/v1/score",
        content=orjson.dumps(body(merchant_id="m" * 100, padding="x" * 20_000)),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 413
    assert r.json()["error"] == "payload_too_large"
    assert keys_of(redis_url, prefix) == set()
    # Counted once, and only when refused.
    refused = refusals("413")
    assert client.post("/v1/score", json=body()).status_code == 200
    assert refusals("413") == refused
    big = orjson.dumps(body(padding="x" * 20_000))
    assert client.post("/v1/score", content=big).status_code == 413
    assert refusals("413") == refused + 1


def test_api_keys_are_required_but_probes_and_metrics_stay_open(client: TestClient) -> None:
    anonymous = {"Authorization": ""}
    assert client.post("/v1/score", json=body(), headers=anonymous).status_code == 401
    assert (
        client.post("/v1/score", json=body(), headers={"Authorization": "Bearer wrong"}).status_code
        == 401
    )
    assert (
        client.post(
            "/v1/score", json=body(), headers={"Authorization": "", "X-API-Key": API_KEY}
        ).status_code
        == 200
    )
    assert client.get("/healthz", headers=anonymous).status_code == 200
    assert client.get("/readyz", headers=anonymous).json()["status"] == "ready"
    metrics = client.get("/metrics", headers=anonymous).text
    for name in (
        "fraud_feature_store_seconds",
        "fraud_inference_seconds",
        "fraud_score_bucket",
        "fraud_decisions_total",
        "fraud_degraded_total",
        "fraud_score_latency_seconds_bucket",
        'fraud_refused_total{status="401"}',
    ):
        assert name in metrics
    assert client.post("/v1/admin/reload", headers=anonymous).status_code == 401


def test_production_refuses_to_start_without_keys() -> None:
    with pytest.raises(ValueError, match="FRAUD_API_KEYS"):
        Settings(environment="production", api_keys="")


def test_a_retried_transaction_gets_the_identical_answer_and_counts_once(
    client: TestClient, redis_url: str, prefix: str
) -> None:
    first = client.post("/v1/score", json=body(transaction_id="tx_retry"))
    again = client.post("/v1/score", json=body(transaction_id="tx_retry"))
    assert first.content == again.content
    # Same id with other fields: not a retry (tests/integration/test_idempotency.py).
    changed = client.post("/v1/score", json=body(transaction_id="tx_retry", amount=9999.0))
    assert changed.status_code == 409
    key = entity_key(prefix, "card", EXAMPLE["card_id"])
    with redis.Redis.from_url(redis_url) as r:
        assert len(stored_state("card", r.get(key)).window) == 1
        later = client.post(
            "/v1/score",
            json=body(transaction_id="tx_next", timestamp="2026-11-28T12:05:00.000+01:00"),
        )
        assert later.status_code == 200
        assert len(stored_state("card", r.get(key)).window) == 2


def test_model_reload_through_the_admin_endpoint(client: TestClient) -> None:
    version = client.post("/v1/score", json=body()).json()["model_version"]
    r = client.post("/v1/admin/reload")
    assert r.status_code == 200
    assert r.json() == {
        "model_version": version,
        "previous": version,
        "challenger": "",
        "challenger_error": "",
    }


class CountingConnection(aioredis.Connection):
    """A real connection that records what each write to the socket carried."""

    sends: ClassVar[list[bytes]] = []

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        packed = (
            command if isinstance(command, bytes | bytearray | memoryview) else b"".join(command)
        )
        CountingConnection.sends.append(bytes(packed))
        await super().send_packed_command(command, check_health)


def counting_redis(settings: Settings) -> aioredis.Redis:
    client = redis_client(settings)
    client.connection_pool.connection_class = CountingConnection
    return client


def test_each_request_reads_and_records_its_windows_in_one_round_trip(
    redis_url: str, prefix: str, bundle_dir: Path
) -> None:
    app = create_app(make_settings(redis_url, prefix, bundle_dir), make_redis=counting_redis)
    with TestClient(app) as c:
        c.headers["Authorization"] = f"Bearer {API_KEY}"
        c.post("/v1/score", json=body(transaction_id="warm"))
        for i in range(5):
            CountingConnection.sends.clear()
            r = c.post("/v1/score", json=body(transaction_id=f"tx_rt_{i}", device_id=f"d{i}"))
            assert r.status_code == 200
            seen = seen_key(prefix, SCOPE, f"tx_rt_{i}").encode()
            scoring = [s for s in CountingConnection.sends if seen in s]
            assert len(scoring) == 1, CountingConnection.sends
            assert scoring[0].count(b"EVALSHA") == 1
            # Anything else is the answer stored for retries, written after responding:
            # the same script with decision keys only, no window.
            others = [s for s in CountingConnection.sends if seen not in s]
            assert all(s.count(b"EVALSHA") == 1 for s in others)
            window = f"{prefix}:w{FORMAT}:".encode()
            assert all(f"{prefix}:d:".encode() in s and window not in s for s in others)
    with redis.Redis.from_url(redis_url) as r:
        assert all(r.get(decision_key(prefix, SCOPE, f"tx_rt_{i}")) for i in range(5))


def test_answers_ride_on_the_next_round_trip_or_go_alone_after_the_linger(
    redis_url: str, prefix: str, bundle_dir: Path
) -> None:
    # Stored for retries, an answer goes out with the next store batch when one leaves
    # within the linger; otherwise on its own. (It used to take a round trip of its own
    # whenever nothing was queued: a third of all round trips at 1,000 requests/s.)
    settings = make_settings(redis_url, prefix, bundle_dir, answer_linger_ms=300.0)
    app = create_app(settings, make_redis=counting_redis)

    def trips() -> list[bytes]:
        return [s for s in CountingConnection.sends if b"EVALSHA" in s]

    async def run() -> None:
        from asgi_lifespan import LifespanManager

        async with LifespanManager(app):
            service = app.state.service
            CountingConnection.sends.clear()
            first, second = (
                ScoreRequest.model_validate(body(transaction_id=f"tx_ride_{n}", card_id=n))
                for n in ("a", "b")
            )
            await service.score(first.to_transaction())
            await service.score(
                second.to_transaction()
            )  # within the linger: it carries the first's answer
            assert len(trips()) == 2
            # Scored by the service itself: the empty scope.
            ride_a, ride_b = (decision_key(prefix, "", f"tx_ride_{n}") for n in ("a", "b"))
            assert ride_a.encode() in trips()[1]
            # Nothing else leaves: after the linger, the second's answer goes alone.
            await eventually(lambda: len(trips()) >= 3, "the answer stored alone", poll_s=0.01)
            assert len(trips()) == 3
            assert ride_b.encode() in trips()[2]
            assert f"{prefix}:seen:".encode() not in trips()[2]
            with redis.Redis.from_url(redis_url) as r:
                assert r.get(ride_a)
                # Sent is not yet stored: this connection may be read before the other.
                await eventually(lambda: r.get(ride_b) is not None, "the answer stored")

    asyncio.run(run())


def test_concurrent_requests_share_round_trips(
    redis_url: str, prefix: str, bundle_dir: Path
) -> None:
    settings = make_settings(redis_url, prefix, bundle_dir)
    app = create_app(settings, make_redis=counting_redis)

    async def burst() -> None:
        import httpx
        from asgi_lifespan import LifespanManager

        async with LifespanManager(app) as manager:
            transport = httpx.ASGITransport(app=manager.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
                CountingConnection.sends.clear()
                responses = await asyncio.gather(
                    *(
                        c.post(
                            "/v1/score",
                            json=body(transaction_id=f"tx_c_{i}"),
                            headers={"Authorization": f"Bearer {API_KEY}"},
                        )
                        for i in range(40)
                    )
                )
        assert all(r.status_code == 200 for r in responses)
        round_trips = [s for s in CountingConnection.sends if b"EVALSHA" in s]
        assert all(s.count(b"EVALSHA") == 1 for s in round_trips)
        assert len(round_trips) < 40
        # Every transaction went out in one of them, and each was recorded once.
        # Each transaction's seen key ("...{scope:tx_c_N}") in a round trip: without its tag's "}".
        seen_prefix = seen_key(prefix, SCOPE, "tx_c_").removesuffix("}").encode()
        assert sum(s.count(seen_prefix) for s in round_trips) == 40
        seen = aioredis.Redis.from_url(redis_url)
        assert len(await seen.keys(seen_key(prefix, SCOPE, "tx_c_*"))) == 40
        await seen.aclose()

    asyncio.run(burst())


def score_concurrently(
    settings: Settings,
    bodies: list[dict[str, Any]],
    slow_reads: dict[int, float] | None = None,
) -> tuple[list[dict[str, Any]], list[int]]:
    """Score bodies at once through the service (its real Redis), returning the answers and
    the rows of each model call. slow_reads: the n-th store round trip takes that much longer."""
    app = create_app(settings)
    calls: list[int] = []

    async def burst() -> list[dict[str, Any]]:
        from asgi_lifespan import LifespanManager

        async with LifespanManager(app):
            bundle, service = app.state.models.bundle, app.state.service
            score, read = bundle.score, service.store.read_and_record
            reads = itertools.count()

            def spied_score(matrix: Any) -> Any:
                calls.append(len(matrix))
                return score(matrix)

            async def spied_read(*args: Any) -> Any:
                delay = (slow_reads or {}).get(next(reads), 0.0)
                result = await read(*args)
                await asyncio.sleep(delay)
                return result

            bundle.score, service.store.read_and_record = spied_score, spied_read
            requests = [ScoreRequest.model_validate(b) for b in bodies]
            answers = await asyncio.gather(*(service.score(r.to_transaction()) for r in requests))
        return [orjson.loads(a.json) for a in answers]

    return asyncio.run(burst()), calls


def test_a_round_trip_still_out_is_waited_for_up_to_the_linger(
    redis_url: str, prefix: str, bundle_dir: Path
) -> None:
    bodies = [body(transaction_id=f"tx_l{i}", card_id=f"l_{i}") for i in range(2)]
    # One request per round trip. The second lands 100 ms after the first: within a 1 s
    # linger, one model call scores both (per round trip, it would be [1, 1]).
    settings = make_settings(redis_url, prefix, bundle_dir, max_batch=1, compute_linger_ms=1000.0)
    answers, calls = score_concurrently(settings, bodies, slow_reads={1: 0.1})
    assert calls == [2]
    assert not any(a["degraded"] for a in answers)
    # With a 20 ms linger the first answer does not wait for a round trip 300 ms late.
    bodies = [body(transaction_id=f"tx_s{i}", card_id=f"s_{i}") for i in range(2)]
    settings = make_settings(
        redis_url, prefix, bundle_dir, max_batch=1, compute_linger_ms=20.0, redis_budget_ms=2000
    )
    answers, calls = score_concurrently(settings, bodies, slow_reads={1: 0.3})
    assert calls == [1, 1]
    assert answers[0]["latency_ms"] < 250 <= answers[1]["latency_ms"]
    assert not any(a["degraded"] for a in answers)


def test_the_linger_waits_only_for_round_trips_already_out(
    redis_url: str, prefix: str, bundle_dir: Path
) -> None:
    # Two round trips in flight at most, one request each: A (fast) and B (100 ms late) go
    # out together; C goes out when A lands, 400 ms late. The compute worker, woken by A,
    # waits for B (out when A landed) but not for C (sent while it waited): under a steady
    # stream some round trip is always out, and waiting for each new one would leave the
    # loop idle.
    bodies = [body(transaction_id=f"tx_o{i}", card_id=f"o_{i}") for i in range(3)]
    settings = make_settings(
        redis_url,
        prefix,
        bundle_dir,
        max_batch=1,
        max_inflight_batches=2,
        compute_linger_ms=1000.0,
        redis_budget_ms=2000,
    )
    answers, calls = score_concurrently(settings, bodies, slow_reads={1: 0.1, 2: 0.4})
    assert calls == [2, 1]
    assert answers[0]["latency_ms"] < 350 <= answers[2]["latency_ms"]
    assert not any(a["degraded"] for a in answers)


def test_a_reply_that_came_while_the_process_was_busy_is_used(
    redis_url: str, prefix: str, bundle_dir: Path
) -> None:
    # The round trip leaves, then the process is busy for 80 ms (a long computation, the
    # machine taking the CPU away): Redis answered in time, but its reply is read after the
    # 25 ms budget. It is used, not counted as a slow store: the answer is not degraded.
    settings = make_settings(redis_url, prefix, bundle_dir, redis_budget_ms=25.0)
    app = create_app(settings)

    async def run() -> dict[str, Any]:
        from asgi_lifespan import LifespanManager

        async with LifespanManager(app):
            service = app.state.service
            read = service.store.read_and_record

            async def busy_while_reading(*args: Any) -> Any:
                reading = asyncio.ensure_future(read(*args))
                await asyncio.sleep(0)  # the command is sent
                time.sleep(0.08)  # the process busy; the reply arrives meanwhile
                return await reading

            service.store.read_and_record = busy_while_reading
            answer = await service.score(
                ScoreRequest.model_validate(body(transaction_id="tx_busy")).to_transaction()
            )
            return dict(orjson.loads(answer.json))

    answer = uvloop.run(run())  # the server's loop: it orders timers and I/O its own way
    assert answer["degraded"] is False
    assert answer["latency_ms"] >= 80


def test_a_failing_model_call_answers_500_and_the_next_request_is_scored(
    redis_url: str, prefix: str, bundle_dir: Path
) -> None:
    app = create_app(make_settings(redis_url, prefix, bundle_dir))
    with TestClient(app, raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {API_KEY}"
        bundle = app.state.models.bundle
        score = bundle.score
        failures = REGISTRY.get_sample_value("fraud_score_failures_total") or 0.0

        def broken(matrix: Any) -> Any:
            bundle.score = score  # fails once
            raise RuntimeError("model call failed")

        bundle.score = broken
        failed = client.post("/v1/score", json=body(transaction_id="tx_broken"))
        assert failed.status_code == 500
        assert failed.json()["error"] == "internal_error"
        assert REGISTRY.get_sample_value("fraud_score_failures_total") == failures + 1
        after = client.post("/v1/score", json=body(transaction_id="tx_after_broken"))
        assert after.status_code == 200
        assert after.json()["degraded"] is False


def test_scoring_is_counted_by_its_own_metrics_not_the_http_ones(client: TestClient) -> None:
    decided = REGISTRY.get_sample_value("fraud_score_latency_seconds_count") or 0.0
    assert client.post("/v1/score", json=body(transaction_id="tx_http_metrics")).status_code == 200
    assert 'handler="/v1/score"' not in client.get("/metrics").text
    assert REGISTRY.get_sample_value("fraud_score_latency_seconds_count") == decided + 1
