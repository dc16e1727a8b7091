"""Real servers for integration tests: the machine's Redis, or ones the suite starts itself."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile

from app.localstack import free_port, redis_reachable, start_redis_server, stop


class RedisServer:
    """A redis-server of our own on a free loopback port; only this process is ever stopped."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="fraud-redis-")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.process = start_redis_server(self.port, self.dir)
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
        self.process = None

    def pause(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)

    def cleanup(self) -> None:
        if self.process is not None:
            self.resume()
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def shared_redis_url() -> tuple[str, RedisServer | None]:
    """FRAUD_REDIS_URL or the machine's Redis if reachable, else one we start."""
    url = os.environ.get("FRAUD_REDIS_URL", "redis://127.0.0.1:6379/0")
    if redis_reachable(url):
        return url, None
    server = RedisServer().start()
    return server.url, server
