"""The rolling-update drill without Kubernetes: two `fraud serve` replicas behind HAProxy
(health checks on /readyz, L7 retries), each replaced under load as a Deployment with
maxSurge 1 / maxUnavailable 0 does it: a new replica started and taking traffic, then
the old one sent SIGTERM. No request fails (the client never retries: the load balancer
and the replica's graceful stop must be enough) and no decision is lost downstream
(every answered id is stored once, by a real `fraud consume` from real Kafka)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from localservers import free_port
from localservers.haproxy import HAProxy, haproxy_binary
from localservers.kafka import KafkaCluster
from tests.integration.drill_stack import DrillStack, Traffic, wait_for_rows


def require_haproxy() -> None:
    """Installed by `make test` (scripts/debian-packages.sh); a laptop without it skips,
    CI fails."""
    if haproxy_binary() is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("haproxy is missing under CI=true (scripts/debian-packages.sh)")
        pytest.skip("haproxy is not installed (scripts/debian-packages.sh installs it)")


@pytest.mark.timeout(600)
def test_a_rolling_update_behind_haproxy_fails_no_request_and_loses_no_decision(
    kafka: Callable[[int], KafkaCluster],
    redis_url: str,
    prefix: str,
    bundle_dir: Path,
    schema: str,
    tmp_path: Path,
) -> None:
    require_haproxy()
    cluster = kafka(1)
    stack = DrillStack(cluster.bootstrap, redis_url, prefix, bundle_dir, schema, tmp_path)
    slots = [free_port() for _ in range(3)]  # two replicas and the surge's spare
    running = {slots[0]: stack.start_replica(slots[0]), slots[1]: stack.start_replica(slots[1])}
    stack.start_consumer()
    balancer = HAProxy(slots).start()
    stopped: list[int | None] = []
    try:
        for port in slots[:2]:
            balancer.wait_until_up(port)

        async def roll(traffic: Traffic) -> None:
            await asyncio.sleep(5)
            traffic.phase = "rolling update"
            for old, new in ((slots[0], slots[2]), (slots[1], slots[0])):
                running[new] = await asyncio.to_thread(stack.start_replica, new)
                await asyncio.to_thread(balancer.wait_until_up, new)
                replica = running.pop(old)
                replica.send_signal(signal.SIGTERM)
                stopped.append(await asyncio.to_thread(wait, replica))
            await asyncio.sleep(5)
            traffic.phase = "after"

        traffic = Traffic(balancer.base, retries=0)
        ids = [f"r{i}" for i in range(6_000)]
        asyncio.run(traffic.run(ids, rate=200, fault=roll, tolerate_errors=True))
        states = balancer.states()
    finally:
        balancer.stop()
        stack.stop()
    retried, refused = balancer.requests()
    balancer.cleanup()
    # uvicorn drains, then re-raises SIGTERM so the exit status says why it stopped.
    assert len(stopped) == 2
    assert all(code in (0, -signal.SIGTERM) for code in stopped), stopped
    assert sorted(p for p, s in states.items() if s == "UP") == sorted([slots[2], slots[0]])
    assert traffic.failures == 0, (traffic.errors, refused[:20])
    assert traffic.retried == 0
    assert len(traffic.answered) == len(ids)
    assert "rolling update" in traffic.latencies
    count, stored_ids = wait_for_rows(schema, len(traffic.answered))
    print(
        f"rolling update: {len(traffic.answered)} answered through haproxy, {count} rows;"
        f" client p99 {traffic.client_p99('normal'):.0f} ms normal /"
        f" {traffic.client_p99('rolling update'):.0f} ms during the update; haproxy sent"
        f" {retried} requests again, answered {len(refused)} with an error"
    )
    assert count == len(stored_ids), "duplicate rows"
    assert stored_ids == traffic.answered, stack.tails()


def wait(process: subprocess.Popen[bytes]) -> int | None:
    """Its exit status once it stopped (the drain of a graceful stop included)."""
    try:
        return process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return None
