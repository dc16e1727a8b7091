"""Real Apache Kafka for the tests about Kafka's guarantees: a cluster of the test's own.

Where Java or Maven is missing (a laptop), those tests skip and say why; under CI=true
that is a failure instead, so CI always runs them. The first run fetches the broker's
jars with Maven (localservers.kafka.jars); later runs reuse the cache."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from localservers.kafka import KafkaCluster, ensure_jars, missing_tools


def require_kafka() -> None:
    missing = missing_tools()
    if missing:
        reason = f"real Apache Kafka needs {' and '.join(missing)} (Java 17+ and Maven)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}: missing under CI=true")
        pytest.skip(reason)
    ensure_jars()


@contextmanager
def kafka_cluster(size: int, min_insync: int = 1) -> Iterator[KafkaCluster]:
    """`size` brokers of our own (each also a controller), removed afterwards."""
    require_kafka()
    cluster = KafkaCluster(size, min_insync=min_insync)
    try:
        yield cluster.start()
    finally:
        cluster.cleanup()
