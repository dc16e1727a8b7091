"""Loopback ports: a free one, and whether one answers."""

from __future__ import annotations

import random
import socket
import subprocess

from localservers.process import wait_until

# Listening ports come from below Linux's ephemeral range (32768-60999), where the
# source ports of outgoing connections come from: a server restarted on its port (a
# broker after a crash) could otherwise find it taken by a client's reconnect.
LISTEN_PORTS = range(20_000, 32_000)


def free_port() -> int:
    for _ in range(100):
        port = random.choice(LISTEN_PORTS)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tcp_reachable(address: str, timeout_s: float = 0.5) -> bool:
    """host:port accepts a TCP connection."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout_s):
            return True
    except (OSError, ValueError):
        return False


def port_free(port: int) -> bool:
    return not tcp_reachable(f"127.0.0.1:{port}")


def wait_for_port(process: subprocess.Popen[bytes], port: int, name: str, timeout_s: float) -> None:
    """Until 127.0.0.1:port accepts connections; stops the process and raises if it exits
    or time runs out."""
    wait_until(
        process, lambda: not port_free(port), f"{name} did not start on port {port}", timeout_s
    )
