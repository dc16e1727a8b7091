"""A `fraud serve` process of ours: waiting until it is ready."""

from __future__ import annotations

import subprocess
import time

import httpx


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
