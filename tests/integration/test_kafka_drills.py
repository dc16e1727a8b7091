"""Failure drills on real Apache Kafka (KRaft): nothing lost, nothing doubled.

Each drill scores transactions through a real `fraud serve` process (idempotent producer,
acks=all) while a fault is injected, lets real `fraud consume` processes write them into
PostgreSQL, and then asserts exactly one row per answered id, no other row, and that
scoring never waited for Kafka during the fault (the API's own latency_ms, from receipt to
answer: drill_stack.within_budget).

A phase of traffic is so many answers (Traffic.answers: seconds at the nominal rate on a
quiet machine, as many answers on a slow one), and a step that needs the cluster in some
state waits for Kafka or the API to report it (tests/integration/drill_conditions.py),
never for a fixed time.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from localservers.kafka import KafkaCluster
from tests.integration.drill_conditions import group_assigned, in_sync, spool_resent
from tests.integration.drill_stack import (
    TOPIC,
    DrillStack,
    Traffic,
    kill_mid_batch,
    wait_for_rows,
    within_budget,
)
from tests.waiting import eventually

Drill = Callable[..., tuple[KafkaCluster, DrillStack]]
# Each check of the cluster's state is a new admin connection, or a /metrics scrape of the
# API under test: a few a second, not to weigh on what the drill measures.
POLL_S = 0.5


@pytest.fixture
def drill(
    kafka: Callable[[int], KafkaCluster],
    redis_url: str,
    prefix: str,
    bundle_dir: Path,
    schema: str,
    tmp_path: Path,
) -> Iterator[Drill]:
    """Starts `size` brokers of the test's own, then the engine on them: the API and
    `consumers` consumers. Afterwards stops the API, then the consumers, then (the `kafka`
    fixture) the brokers."""
    built: list[DrillStack] = []

    def start(
        size: int, replication: int = 1, consumers: int = 1
    ) -> tuple[KafkaCluster, DrillStack]:
        cluster = kafka(size)
        stack = DrillStack(
            cluster.bootstrap, redis_url, prefix, bundle_dir, schema, tmp_path, replication
        )
        built.append(stack)
        stack.start_api()
        for _ in range(consumers):
            stack.start_consumer()
        return cluster, stack

    yield start
    for stack in built:
        stack.stop()


def verdict(stack: DrillStack, traffic: Traffic, fault: str) -> None:
    count, ids = wait_for_rows(stack.schema, len(traffic.answered))
    normal, during = traffic.p99("normal"), traffic.p99(fault)
    print(
        f"{fault}: {len(traffic.answered)} answered, {count} rows, {count - len(ids)} duplicates;"
        f" API p99 {normal:.1f} ms normal / {during:.1f} ms during the fault, median"
        f" {traffic.median('normal'):.1f} / {traffic.median(fault):.1f} ms"
        f" (client p99 {traffic.client_p99('normal'):.0f} / {traffic.client_p99(fault):.0f} ms,"
        f" {traffic.retried} requests retried)"
    )
    assert count == len(ids), "duplicate rows"
    assert ids == traffic.answered, stack.tails()
    medians = (traffic.median("normal"), traffic.median(fault))
    assert within_budget(traffic, fault), {"p99": (normal, during), "median": medians}


@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    ("size", "decisions", "rate"),
    [
        pytest.param(3, 10_000, 300, id="one-broker-of-three-replication-2"),
        pytest.param(1, 5_000, 250, id="the-single-broker"),
    ],
)
def test_a_broker_sigkilled_and_restarted_from_its_log_directory(
    drill: Drill, size: int, decisions: int, rate: float
) -> None:
    """With three brokers the partitions it led move to their other replica; with one,
    decisions spool on the API's disk until it is back."""
    cluster, stack = drill(size, replication=min(size, 2))
    victim = cluster.nodes[-1]

    async def fault(traffic: Traffic) -> None:
        await traffic.answers(int(8 * rate))
        traffic.phase = "broker killed"
        victim.kill()
        await traffic.answers(int(10 * rate))
        await asyncio.to_thread(victim.start)
        await eventually(
            lambda: in_sync(cluster.bootstrap, TOPIC, victim.node_id),
            f"node {victim.node_id} back in the in-sync replicas",
            poll_s=POLL_S,
        )
        await eventually(lambda: spool_resent(stack.base, TOPIC), "spool re-sent", poll_s=POLL_S)
        traffic.phase = "after"

    traffic = Traffic(stack.base)
    asyncio.run(traffic.run([f"k{i}" for i in range(decisions)], rate=rate, fault=fault))
    assert len(traffic.answered) == decisions
    verdict(stack, traffic, "broker killed")


@pytest.mark.timeout(600)
def test_two_consumers_in_one_group_one_killed_mid_batch(drill: Drill) -> None:
    _, stack = drill(1, consumers=2)
    first = stack.consumers[0]
    caught: list[bool] = []

    async def fault(traffic: Traffic) -> None:
        await traffic.answers(6 * 250)
        await eventually(
            lambda: group_assigned(stack.bootstrap, stack.env["FRAUD_CONSUMER_GROUP"], 2),
            "both consumers in the group, each with its partitions",
            poll_s=POLL_S,
        )
        traffic.phase = "consumer killed"
        caught.append(await kill_mid_batch(first))
        await traffic.answers(5 * 250)
        traffic.phase = "after"

    traffic = Traffic(stack.base)
    asyncio.run(traffic.run([f"c{i}" for i in range(5_000)], rate=250, fault=fault))
    assert caught == [True], "the consumer was never caught inside a transaction"
    assert len(traffic.answered) == 5_000
    verdict(stack, traffic, "consumer killed")


@pytest.mark.timeout(600)
def test_the_api_sigtermed_under_load_spools_and_resends_on_its_next_start(
    drill: Drill, tmp_path: Path
) -> None:
    """The broker is stalled (SIGSTOP) when the API is told to stop, so what it holds can
    only go to its spool; the next API process on the same spool sends it."""
    cluster, stack = drill(1)
    broker = cluster.nodes[0]

    async def fault(traffic: Traffic) -> None:
        await traffic.answers(5 * 250)
        traffic.phase = "broker stalled"
        broker.pause()
        await traffic.answers(3 * 250)  # decisions the API holds and cannot send
        traffic.phase = "api stopping"
        assert stack.api is not None
        stack.api.send_signal(signal.SIGTERM)
        await asyncio.to_thread(stack.api.wait, 60)

    traffic = Traffic(stack.base)
    asyncio.run(
        traffic.run([f"t{i}" for i in range(3_000)], rate=250, fault=fault, tolerate_errors=True)
    )
    assert stack.api is not None
    assert stack.api.returncode in (0, -signal.SIGTERM), stack.tails()
    spool = tmp_path / "audit.spool"
    assert spool.stat().st_size > 0, "nothing was spooled"
    broker.resume()
    stack.start_api()  # re-sends the spool
    second = Traffic(stack.base, phase="after")
    asyncio.run(second.run([f"u{i}" for i in range(1_000)], rate=250))
    assert traffic.failures > 0, "the API answered every request: it was not stopped under load"
    assert len(second.answered) == 1_000
    traffic.answered |= second.answered
    verdict(stack, traffic, "broker stalled")
