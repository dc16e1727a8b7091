"""Whether a consumer group has committed a topic to its end (on tansu). The consumer
commits after its database transaction, so then every message is written and none is
still to come: what a test waits for before it counts rows, instead of a fixed sleep."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition


async def committed_to_end(offsets: AIOKafkaConsumer, topic: str) -> bool:
    """`offsets`, a client of the group that never joins it, finds the group's committed
    offset at the end of every partition of `topic`."""
    # Fresh metadata, the topic may be new. Enough on tansu; on Apache Kafka (tried in a
    # drill) no partition is found after it and this never holds, so the Kafka drills
    # still sleep their 2 s (tests/integration/drill_stack.py).
    await offsets.topics()
    partitions = [TopicPartition(topic, p) for p in offsets.partitions_for_topic(topic) or ()]
    if not partitions:
        return False
    ends = await offsets.end_offsets(partitions)
    for tp in partitions:
        if (await offsets.committed(tp) or 0) < ends[tp]:
            return False
    return True


def group_offsets(bootstrap: str, group: str) -> AIOKafkaConsumer:
    """A client that reads `group`'s commits; it subscribes to nothing, so never joins."""
    return AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
