"""Identical retries sent at once are scored once: the first computes, the others get its
answer byte for byte, and the decision is audited (and so streamed and stored) once.

Real `fraud serve` processes on one Redis, their audit events on a tansu broker, and real
concurrent HTTP clients: twenty copies of one request to one process, then to two
processes at once (the second process's copies arrive while the first's answer may not be
stored yet), and copies with another field at once (409, nothing audited for them).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from localservers import TansuBroker, free_port
from tests.integration.conftest import API_KEY
from tests.integration.drill_stack import TOPIC, DrillStack
from tests.integration.test_score_api import body

COPIES = 20


@pytest.fixture(params=["memory", "log"])
def two_apis(
    request: pytest.FixtureRequest,
    broker: TansuBroker,
    redis_url: str,
    prefix: str,
    bundle_dir: Path,
    schema: str,
    tmp_path: Path,
) -> Iterator[tuple[str, str]]:
    """Two API processes on one Redis prefix (as two pods, or two workers of one), each
    publishing to `broker`, in either audit durability."""
    stack = DrillStack(
        broker.bootstrap,
        redis_url,
        prefix,
        bundle_dir,
        schema,
        tmp_path,
        overrides={
            "FRAUD_AUDIT_IDEMPOTENCE": "false",  # tansu refuses InitProducerId
            "FRAUD_AUDIT_DURABILITY": request.param,
            "FRAUD_AUDIT_LOG_DIR": str(tmp_path / "audit-log"),
        },
    )
    try:
        stack.start_api()
        other = free_port()
        stack.start_replica(other)
        yield stack.base, f"http://127.0.0.1:{other}"
    finally:
        stack.stop()


async def send_at_once(requests: list[tuple[str, dict[str, object]]]) -> list[httpx.Response]:
    """Each request on a connection of its own, all connected first, then sent together."""
    headers = {"Authorization": f"Bearer {API_KEY}"}
    clients = [
        httpx.AsyncClient(base_url=base, headers=headers, timeout=30) for base, _ in requests
    ]
    try:
        # A first request on each connection opens it, so that the copies leave together.
        await asyncio.gather(*(c.get("/healthz") for c in clients))
        return await asyncio.gather(
            *(
                c.post("/v1/score", json=payload)
                for c, (_, payload) in zip(clients, requests, strict=True)
            )
        )
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))


def audited(bootstrap: str, sentinels: set[str], timeout_s: float = 60) -> list[str]:
    """Every transaction id on the audit topic, read until each sentinel is there (each
    process sends its events in order: what it audited before its sentinel is there too)."""

    async def read() -> list[str]:
        consumer = AIOKafkaConsumer(
            TOPIC, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
        )
        await consumer.start()
        ids: list[str] = []
        try:
            deadline = time.monotonic() + timeout_s
            while not sentinels <= set(ids) and time.monotonic() < deadline:
                for messages in (await consumer.getmany(timeout_ms=500)).values():
                    ids += [orjson.loads(m.value)["request"]["transaction_id"] for m in messages]
            for messages in (await consumer.getmany(timeout_ms=1_000)).values():
                ids += [orjson.loads(m.value)["request"]["transaction_id"] for m in messages]
        finally:
            await consumer.stop()
        return ids

    return asyncio.run(read())


def score_sentinels(bases: list[str]) -> set[str]:
    names = set()
    for i, base in enumerate(bases):
        name = f"sentinel-{i}"
        r = httpx.post(
            f"{base}/v1/score",
            json=body(transaction_id=name),
            headers={"Authorization": f"Bearer {API_KEY}"},
            timeout=30,
        )
        assert r.status_code == 200, r.text
        names.add(name)
    return names


@pytest.mark.timeout(300)
def test_identical_retries_at_once_are_scored_and_audited_once(
    two_apis: tuple[str, str], broker: TansuBroker
) -> None:
    first, second = two_apis
    one = body(transaction_id="burst-one", card_id="card_burst_1")
    both = body(transaction_id="burst-both", card_id="card_burst_2")
    answers_one = asyncio.run(send_at_once([(first, one)] * COPIES))
    answers_both = asyncio.run(
        send_at_once([(first, both)] * (COPIES // 2) + [(second, both)] * (COPIES // 2))
    )
    ids = audited(broker.bootstrap, score_sentinels([first, second]))
    observed = {
        name: {
            "statuses": sorted({r.status_code for r in answers}),
            "different bodies": len({r.content for r in answers}),
            "audit events": ids.count(tx),
        }
        for name, tx, answers in (
            ("one process", "burst-one", answers_one),
            ("two processes", "burst-both", answers_both),
        )
    }
    once = {"statuses": [200], "different bodies": 1, "audit events": 1}
    assert observed == {"one process": once, "two processes": once}


@pytest.mark.timeout(300)
def test_copies_with_another_field_at_once_get_409_and_are_not_audited(
    two_apis: tuple[str, str], broker: TansuBroker
) -> None:
    first, second = two_apis
    requests = [
        (first if i % 2 else second, body(transaction_id="burst-mixed", amount=10.0 + i % 2))
        for i in range(COPIES)
    ]
    answers = asyncio.run(send_at_once(requests))
    statuses = sorted(r.status_code for r in answers)
    assert set(statuses) == {200, 409}, statuses
    amounts = {r.json()["transaction_id"] for r in answers if r.status_code == 200}
    assert amounts == {"burst-mixed"}
    accepted = [p for (_, p), r in zip(requests, answers, strict=True) if r.status_code == 200]
    assert len({p["amount"] for p in accepted}) == 1, "both versions of the request were scored"
    assert len({r.content for r in answers if r.status_code == 200}) == 1
    for r in answers:
        if r.status_code == 409:
            assert r.json()["error"] == "conflict"
    ids = audited(broker.bootstrap, score_sentinels([first, second]))
    assert ids.count("burst-mixed") == 1
