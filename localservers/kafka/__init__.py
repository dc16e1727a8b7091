"""Real Apache Kafka (KRaft) from its Maven Central artifacts: the jars and a local cluster."""

from localservers.kafka.cluster import KafkaCluster, KafkaNode
from localservers.kafka.jars import ensure_jars, missing_tools

__all__ = ["KafkaCluster", "KafkaNode", "ensure_jars", "missing_tools"]
