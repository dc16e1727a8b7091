"""The Kafka cluster's identifiers and node configuration, without starting a JVM."""

from __future__ import annotations

import base64

from localservers.kafka.cluster import KafkaCluster, kafka_uuid
from localservers.kafka.jars import kafka_version


def test_ids_are_kafka_uuids_base64url_of_16_bytes_never_starting_with_a_dash() -> None:
    for _ in range(200):
        text = kafka_uuid()
        assert len(text) == 22
        assert not text.startswith("-")
        assert len(base64.urlsafe_b64decode(text + "==")) == 16


def test_a_three_node_cluster_is_one_quorum_of_combined_nodes() -> None:
    cluster = KafkaCluster(3)
    try:
        configs = [
            dict(line.split("=", 1) for line in cluster._properties(n).splitlines())
            for n in cluster.nodes
        ]
        voters = {c["controller.quorum.bootstrap.servers"] for c in configs}
        assert len(voters) == 1  # every node knows the same three controllers
        assert len(voters.pop().split(",")) == 3
        assert {c["node.id"] for c in configs} == {"1", "2", "3"}
        assert {c["process.roles"] for c in configs} == {"broker,controller"}
        assert len({c["log.dirs"] for c in configs}) == 3
        assert {c["offsets.topic.replication.factor"] for c in configs} == {"3"}
        assert cluster.bootstrap.count(",") == 2
        assert all(c["listeners"].startswith("PLAINTEXT://127.0.0.1:") for c in configs)
    finally:
        cluster.cleanup()


def test_the_pom_names_a_kafka_4_release() -> None:
    assert kafka_version().split(".")[0] == "4"
