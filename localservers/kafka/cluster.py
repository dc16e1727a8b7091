"""Real Apache Kafka in KRaft mode on loopback: one node, or a cluster of three, each node
both broker and controller, formatted in a folder of its own and run as `kafka.Kafka`.

A node can be SIGKILLed and started again from its log directory, as after a crash."""

from __future__ import annotations

import asyncio
import base64
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from localservers.kafka.jars import java_command
from localservers.net import free_port, wait_for_port
from localservers.process import OwnServer


def kafka_uuid() -> str:
    """A Kafka Uuid as its tools print one (base64url of 16 random bytes, unpadded, never
    starting with '-', as Kafka's Uuid.randomUuid avoids)."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


@dataclass
class KafkaNode(OwnServer):
    node_id: int
    port: int
    controller_port: int
    root: Path
    directory_id: str = field(default_factory=kafka_uuid)

    @property
    def config(self) -> Path:
        return self.root / "server.properties"

    @property
    def log_dir(self) -> Path:
        return self.root / "data"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def launch(self) -> None:
        """Start the JVM without waiting: a node of a quorum opens its broker port only
        once the quorum has a leader, so a cluster's nodes start together."""
        with open(self.root / "server.log", "ab") as log:
            self.process = subprocess.Popen(
                java_command("kafka.Kafka", str(self.config)),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C meant for us does not stop it first
            )

    def wait_listening(self, timeout_s: float = 120) -> None:
        assert self.process is not None
        wait_for_port(self.process, self.port, f"Kafka node {self.node_id}", timeout_s)

    def start(self) -> KafkaNode:
        """Start (again, from its log directory) and wait until the broker port answers."""
        self.launch()
        self.wait_listening()
        return self


class KafkaCluster:
    """`size` combined broker+controller nodes with a quorum of all of them.

    Topics created without settings get `replication` replicas and
    min.insync.replicas=`min_insync`; the internal topics (consumer offsets, transaction
    state) are replicated on every node up to three."""

    def __init__(self, size: int = 1, replication: int | None = None, min_insync: int = 1) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="fraud-kafka-"))
        self.cluster_id = kafka_uuid()
        self.replication = replication or min(size, 3)
        self.min_insync = min_insync
        self.nodes = [
            KafkaNode(i + 1, free_port(), free_port(), self.root / f"node{i + 1}")
            for i in range(size)
        ]

    @property
    def bootstrap(self) -> str:
        return ",".join(node.address for node in self.nodes)

    def _properties(self, node: KafkaNode) -> str:
        internal = min(len(self.nodes), 3)
        voters = ",".join(f"127.0.0.1:{n.controller_port}" for n in self.nodes)
        settings = {
            "process.roles": "broker,controller",
            "node.id": node.node_id,
            "controller.quorum.bootstrap.servers": voters,
            "listeners": f"PLAINTEXT://127.0.0.1:{node.port},CONTROLLER://127.0.0.1:{node.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{node.port},CONTROLLER://127.0.0.1:{node.controller_port}",
            "inter.broker.listener.name": "PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": node.log_dir,
            "num.partitions": 1,
            "default.replication.factor": self.replication,
            "min.insync.replicas": self.min_insync,
            "auto.create.topics.enable": "false",
            "unclean.leader.election.enable": "false",
            "offsets.topic.replication.factor": internal,
            "offsets.topic.num.partitions": 6,
            "transaction.state.log.replication.factor": internal,
            "transaction.state.log.min.isr": min(internal, 2),
            "transaction.state.log.num.partitions": 6,
            "share.coordinator.state.topic.replication.factor": internal,
            "share.coordinator.state.topic.min.isr": min(internal, 2),
            "group.initial.rebalance.delay.ms": 0,
            # Faster failure detection than the defaults (9000 / 2000 ms), for drills.
            "broker.session.timeout.ms": 4000,
            "broker.heartbeat.interval.ms": 500,
            "num.network.threads": 2,
            "num.io.threads": 2,
            "num.recovery.threads.per.data.dir": 1,
            "background.threads": 2,
        }
        return "".join(f"{key}={value}\n" for key, value in settings.items())

    def _format(self) -> None:
        if len(self.nodes) == 1:
            quorum = ["--standalone"]
        else:
            controllers = ",".join(
                f"{n.node_id}@127.0.0.1:{n.controller_port}:{n.directory_id}" for n in self.nodes
            )
            quorum = ["--initial-controllers", controllers]
        for node in self.nodes:
            node.root.mkdir(parents=True, exist_ok=True)
            node.config.write_text(self._properties(node))
        formatting = [
            subprocess.Popen(
                java_command(
                    "kafka.tools.StorageTool",
                    "format",
                    "--cluster-id",
                    self.cluster_id,
                    "--config",
                    str(node.config),
                    *quorum,
                ),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            for node in self.nodes
        ]
        try:
            for node, process in zip(self.nodes, formatting, strict=True):
                output, _ = process.communicate(timeout=120)
                if process.returncode:
                    raise RuntimeError(f"formatting Kafka node {node.node_id} failed: {output!r}")
        finally:
            for process in formatting:
                if process.poll() is None:
                    process.kill()
                    process.wait()

    def start(self) -> KafkaCluster:
        if not (self.nodes[0].log_dir / "meta.properties").exists():
            self._format()
        starting = [node for node in self.nodes if node.process is None]
        for node in starting:
            node.launch()
        for node in starting:
            node.wait_listening()
        self.wait_ready()
        return self

    def wait_ready(self, timeout_s: float = 120) -> None:
        """Until every node is registered as a broker of the cluster."""
        asyncio.run(self._wait_ready(timeout_s))

    async def _wait_ready(self, timeout_s: float) -> None:
        from aiokafka.admin import AIOKafkaAdminClient
        from aiokafka.errors import KafkaError

        deadline = time.monotonic() + timeout_s
        while True:
            admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=5000)
            try:
                await admin.start()
                brokers = (await admin.describe_cluster())["brokers"]
                if len(brokers) == len(self.nodes):
                    return
            except (KafkaError, OSError):
                pass
            finally:
                await admin.close()
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Kafka cluster at {self.bootstrap} did not form")
            await asyncio.sleep(0.3)

    def cleanup(self) -> None:
        """Gone for good: SIGKILL (nothing of it is kept) and its folders removed."""
        for node in self.nodes:
            if node.process is not None and node.process.poll() is None:
                node.resume()
            node.kill()
        shutil.rmtree(self.root, ignore_errors=True)
