"""An answered decision survives the API process being SIGKILLed (FRAUD_AUDIT_DURABILITY=log).

Real `fraud serve` and `fraud consume` on real Apache Kafka: a client scores transactions
at a steady rate while the API process is SIGKILLed twice, once with Kafka healthy and once
while the broker is stalled (so that nothing answered since can have reached Kafka), and
started again on the same log directory each time. Every transaction id answered 200 must
then be stored in PostgreSQL exactly once. And a process killed for good leaves its log to
the living ones (two `fraud serve` processes on one log directory, on a tansu broker), and
a worker of `fraud serve --workers 2` killed is replaced by one that ships its log.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import orjson
import psutil
import pytest
from aiokafka import AIOKafkaConsumer

from localservers import TansuBroker, free_port
from localservers.kafka import KafkaCluster
from tests.integration.conftest import API_KEY
from tests.integration.drill_stack import TOPIC, DrillStack, Traffic, stored
from tests.integration.test_score_api import body
from tests.pg import query


@pytest.fixture
def durable_stack(
    kafka: Callable[[int], KafkaCluster],
    redis_url: str,
    prefix: str,
    bundle_dir: Path,
    schema: str,
    tmp_path: Path,
) -> Iterator[tuple[KafkaCluster, DrillStack]]:
    cluster = kafka(1)
    stack = DrillStack(
        cluster.bootstrap,
        redis_url,
        prefix,
        bundle_dir,
        schema,
        tmp_path,
        overrides={
            "FRAUD_AUDIT_DURABILITY": "log",
            "FRAUD_AUDIT_LOG_DIR": str(tmp_path / "audit-log"),
        },
    )
    stack.start_api()
    stack.start_consumer()
    yield cluster, stack
    stack.stop()


def rows_per_id(schema: str) -> dict[str, int]:
    return {
        r[0]: r[1]
        for r in query(schema, "SELECT transaction_id, count(*) FROM decisions GROUP BY 1")
    }


def wait_until_stored(schema: str, ids: set[str], timeout_s: float) -> dict[str, int]:
    """Until every id in `ids` has a row (or time runs out), then a little longer: anything
    still arriving would show as a second row."""
    deadline = time.monotonic() + timeout_s
    while not ids <= stored(schema)[1] and time.monotonic() < deadline:
        time.sleep(0.3)
    time.sleep(3)
    return rows_per_id(schema)


@pytest.mark.timeout(600)
def test_every_answered_decision_is_stored_once_across_sigkills_of_the_api(
    durable_stack: tuple[KafkaCluster, DrillStack],
) -> None:
    cluster, stack = durable_stack
    broker = cluster.nodes[0]
    kills: list[str] = []
    answered_by_first_kill: list[int] = []  # the highest id number answered before it

    async def restart() -> None:
        await asyncio.to_thread(stack.start_api)

    async def fault(traffic: Traffic) -> None:
        assert stack.api is not None
        await asyncio.sleep(5)
        traffic.phase = "killed with Kafka healthy"
        stack.api.kill()  # SIGKILL, mid-stream
        await asyncio.to_thread(stack.api.wait)
        kills.append("healthy")
        answered_by_first_kill.append(max(int(tx[1:]) for tx in traffic.answered))
        await restart()  # on the same log directory
        traffic.phase = "after the first restart"
        await asyncio.sleep(4)
        traffic.phase = "broker stalled"
        broker.pause()  # from here on, nothing answered can reach Kafka before the kill
        try:
            await asyncio.sleep(2)
            stack.api.kill()
            await asyncio.to_thread(stack.api.wait)
            kills.append("stalled")
            await restart()
        finally:
            broker.resume()
        traffic.phase = "after the second restart"

    traffic = Traffic(stack.base)
    asyncio.run(
        traffic.run([f"d{i}" for i in range(6_000)], rate=250, fault=fault, tolerate_errors=True)
    )
    assert kills == ["healthy", "stalled"]
    assert traffic.failures > 0, "no request failed: the API was not killed under load"
    rows = wait_until_stored(stack.schema, traffic.answered, timeout_s=180)
    lost = sorted(traffic.answered - rows.keys(), key=lambda tx: int(tx[1:]))
    doubled = {tx: n for tx, n in rows.items() if n != 1}
    lost_first = [tx for tx in lost if int(tx[1:]) <= answered_by_first_kill[0]]
    print(
        f"{len(traffic.answered)} answered 200, {traffic.failures} failed around the kills;"
        f" {len(rows)} ids stored, {len(doubled)} doubled, {len(lost)} answered ids lost:"
        f" {len(lost_first)} at the kill with Kafka healthy,"
        f" {len(lost) - len(lost_first)} at the kill with the broker stalled"
    )
    assert not doubled, doubled
    assert not lost, f"{len(lost)} answered decisions lost: {lost[:20]}\n{stack.tails()}"


@pytest.mark.timeout(300)
def test_a_dead_process_log_is_shipped_by_a_living_one(
    broker: TansuBroker,
    redis_url: str,
    prefix: str,
    bundle_dir: Path,
    schema: str,
    tmp_path: Path,
) -> None:
    """Two API processes share FRAUD_AUDIT_LOG_DIR (as the workers of `fraud serve
    --workers 2` do), each in a slot of its own. One is SIGKILLed while the broker is
    stalled, with answered decisions in its log, and nobody takes its place: the other
    finds the orphaned slot and ships what it holds."""
    log_dir = tmp_path / "audit-log"
    stack = DrillStack(
        broker.bootstrap,
        redis_url,
        prefix,
        bundle_dir,
        schema,
        tmp_path,
        overrides={
            "FRAUD_AUDIT_IDEMPOTENCE": "false",  # tansu refuses InitProducerId
            "FRAUD_AUDIT_DURABILITY": "log",
            "FRAUD_AUDIT_LOG_DIR": str(log_dir),
        },
    )
    try:
        stack.start_api()
        port = free_port()
        replica = stack.start_replica(port)
        other = f"http://127.0.0.1:{port}"
        assert sorted(p.name for p in log_dir.iterdir()) == ["0", "1"]  # a log each
        broker.pause()
        try:
            answered = asyncio.run(score_all(other, [f"orphan{i}" for i in range(200)]))
            replica.kill()
            replica.wait()
        finally:
            broker.resume()
        assert answered == {f"orphan{i}" for i in range(200)}
        assert any(p.stat().st_size for p in (log_dir / "1").glob("*.log"))
        on_topic = audited_ids(broker.bootstrap, answered, timeout_s=90)
        assert answered <= on_topic, f"{len(answered - on_topic)} of the dead process's lost"
    finally:
        stack.stop()


async def score_all(base: str, ids: list[str]) -> set[str]:
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30
    ) as client:
        answers = await asyncio.gather(
            *(client.post("/v1/score", json=body(transaction_id=tx)) for tx in ids)
        )
    return {r.json()["transaction_id"] for r in answers if r.status_code == 200}


def audited_ids(bootstrap: str, expected: set[str], timeout_s: float) -> set[str]:
    async def read() -> set[str]:
        consumer = AIOKafkaConsumer(
            TOPIC, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
        )
        await consumer.start()
        seen: set[str] = set()
        try:
            deadline = time.monotonic() + timeout_s
            while not expected <= seen and time.monotonic() < deadline:
                for messages in (await consumer.getmany(timeout_ms=500)).values():
                    seen |= {orjson.loads(m.value)["request"]["transaction_id"] for m in messages}
        finally:
            await consumer.stop()
        return seen

    return asyncio.run(read())


def slots_by_worker(supervisor: int) -> dict[int, str]:
    """Each worker process of `fraud serve --workers N` and the audit log slot it holds."""
    held = {}
    for worker in psutil.Process(supervisor).children():
        for opened in worker.open_files():
            if opened.path.endswith("/lock"):
                held[worker.pid] = Path(opened.path).parent.name
    return held


@pytest.mark.timeout(300)
def test_a_worker_sigkilled_is_restarted_on_its_slot_and_ships_what_it_answered(
    broker: TansuBroker,
    redis_url: str,
    prefix: str,
    bundle_dir: Path,
    schema: str,
    tmp_path: Path,
) -> None:
    """`fraud serve --workers 2` with the durable log: each worker in a slot of its own; one
    is SIGKILLed with answered decisions in its log (the broker stalled), uvicorn starts a
    new worker, which takes the dead one's slot and ships them."""
    log_dir = tmp_path / "audit-log"
    stack = DrillStack(
        broker.bootstrap,
        redis_url,
        prefix,
        bundle_dir,
        schema,
        tmp_path,
        overrides={
            "FRAUD_AUDIT_IDEMPOTENCE": "false",  # tansu refuses InitProducerId
            "FRAUD_AUDIT_DURABILITY": "log",
            "FRAUD_AUDIT_LOG_DIR": str(log_dir),
            "FRAUD_WORKERS": "2",
        },
    )
    try:
        stack.start_api()
        assert stack.api is not None
        supervisor = stack.api.pid
        wait_until(lambda: len(slots_by_worker(supervisor)) == 2, 60, "two workers")
        workers = slots_by_worker(supervisor)
        assert sorted(workers.values()) == ["0", "1"]
        broker.pause()
        try:
            answered = asyncio.run(score_all(stack.base, [f"worker{i}" for i in range(300)]))
            victim = min(workers)
            os.kill(victim, signal.SIGKILL)
            logged = sum(p.stat().st_size for p in (log_dir / workers[victim]).glob("*.log"))
            assert logged > 0, "the killed worker had nothing in its log"
        finally:
            broker.resume()
        assert answered == {f"worker{i}" for i in range(300)}
        wait_until(
            lambda: (
                sorted(slots_by_worker(supervisor).values()) == ["0", "1"]
                and victim not in slots_by_worker(supervisor)
            ),
            60,
            "a new worker in the dead one's slot",
        )
        on_topic = audited_ids(broker.bootstrap, answered, timeout_s=90)
        assert answered <= on_topic, f"{len(answered - on_topic)} answered decisions lost"
    finally:
        stack.stop()


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"no {what} within {timeout_s} s"
        time.sleep(0.2)
