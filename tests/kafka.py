"""Real Apache Kafka for the tests about Kafka's guarantees: a cluster of the test's own.

Where Java or Maven is missing (a laptop), those tests skip and say why; under CI=true
that is a failure instead, so CI always runs them. The first run fetches the broker's
jars with Maven (localservers.kafka.jars); later runs reuse the cache."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from localservers.kafka import KafkaCluster, ensure_jars, missing_tools


def require_kafka() -> None:
    missing = missing_tools()
    if missing:
        reason = f"real Apache Kafka needs {' and '.join(missing)}"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{reason}: missing under CI=true")
        pytest.skip(reason)
    ensure_jars()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that starts Apache Kafka, directly or through a fixture, is marked `jvm`:
    `make test-fast` leaves them out (`-m "not jvm"`)."""
    for item in items:
        if "kafka" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.jvm)


@pytest.fixture
def kafka() -> Iterator[Callable[[int], KafkaCluster]]:
    """Starts Apache Kafka clusters of the test's own (`size` nodes, each broker and
    controller); every one is killed and removed after the test."""
    require_kafka()
    started: list[KafkaCluster] = []

    def start(size: int) -> KafkaCluster:
        cluster = KafkaCluster(size)
        started.append(cluster)
        return cluster.start()

    yield start
    for cluster in started:
        cluster.cleanup()
