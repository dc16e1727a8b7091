"""HAProxy (Debian's package) in front of API processes, for the rolling-update drill: a
load balancer that health-checks each replica on /readyz and retries a request its
replica dropped (L7 retries: safe here because scoring is idempotent per transaction
id). The servers are fixed slots on loopback ports; a slot with nothing listening is
simply down, so a new replica started on a spare slot joins once its checks pass."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from localservers.net import free_port, wait_for_port
from localservers.process import OwnServer, stop

CHECK_INTERVAL_MS = 200
# An httplog line: timers, status, bytes, ..., the connection counts ending in retries.
REQUEST_LINE = re.compile(
    r"\] \S+ \S+ [-\d/]+ (?P<status>-?\d+) .* \d+/\d+/\d+/\d+/(?P<retries>\+?\d+) \d+/\d+ \""
)
RISE = 2  # checks passed in a row before a replica takes traffic


def haproxy_binary() -> str | None:
    return shutil.which("haproxy")


def config(port: int, servers: list[int], stats_socket: Path) -> str:
    slots = "\n".join(
        f"    server s{i} 127.0.0.1:{p} check inter {CHECK_INTERVAL_MS}ms fall 1 rise {RISE}"
        for i, p in enumerate(servers)
    )
    return f"""global
    maxconn 4096
    stats socket {stats_socket} mode 600 level admin
    log stderr format raw local0 info

defaults
    mode http
    log global
    option httplog
    timeout connect 1s
    timeout client 30s
    timeout server 10s
    retries 3
    option redispatch 1
    # A request its replica closed the connection on, or refused, goes to another one:
    # the whole body is read first so that it can be sent again (L7 retries), and each
    # request gets a connection of its own to the replica, so none is sent on a kept-alive
    # connection the replica is closing (uvicorn closes idle ones after 5 s).
    option http-buffer-request
    option http-server-close
    retry-on conn-failure empty-response response-timeout
    option httpchk GET /readyz

frontend api
    bind 127.0.0.1:{port}
    default_backend replicas

backend replicas
    balance roundrobin
{slots}
"""


class HAProxy(OwnServer):
    """`haproxy` in the foreground with a config of its own; stopped by its PID."""

    def __init__(self, servers: list[int]) -> None:
        self.servers = servers
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="fraud-haproxy-"))
        self.stats_socket = self.dir / "admin.sock"
        self.log_path = self.dir / "haproxy.log"  # one line per request (httplog)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> HAProxy:
        binary = haproxy_binary()
        assert binary is not None, "haproxy is not installed"
        path = self.dir / "haproxy.cfg"
        path.write_text(config(self.port, self.servers, self.stats_socket))
        subprocess.run([binary, "-c", "-q", "-f", str(path)], check=True)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [binary, "-db", "-f", str(path)], stdout=subprocess.DEVNULL, stderr=log
            )
        wait_for_port(self.process, self.port, "haproxy", 10)
        return self

    def states(self) -> dict[int, str]:
        """Each slot's port and HAProxy's view of it (UP, DOWN, ...), from its stats."""
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(self.stats_socket))
            s.sendall(b"show stat\n")
            raw = b"".join(iter(lambda: s.recv(65536), b""))
        header, *rows = raw.decode().strip().splitlines()
        names = header.lstrip("# ").split(",")
        out: dict[int, str] = {}
        for row in rows:
            record = dict(zip(names, row.split(","), strict=False))
            if record["pxname"] == "replicas" and record["svname"].startswith("s"):
                out[self.servers[int(record["svname"][1:])]] = record["status"].split()[0]
        return out

    def wait_until_up(self, port: int, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while self.states().get(port) != "UP":
            if time.monotonic() > deadline:
                raise TimeoutError(f"haproxy never saw 127.0.0.1:{port} up: {self.states()}")
            time.sleep(0.05)

    def requests(self) -> tuple[int, list[str]]:
        """From its log: how many requests were sent again (to another replica, or to the
        same one), and the lines of those it did not answer 200."""
        retried, failed = 0, []
        for line in self.log_path.read_text(errors="replace").splitlines():
            match = REQUEST_LINE.search(line)
            if match is None or '"<BADREQ>"' in line:  # not a request: a port probe's
                continue
            retried += match["retries"] != "0"
            if match["status"] != "200":
                failed.append(line)
        return retried, failed

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
        self.process = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
