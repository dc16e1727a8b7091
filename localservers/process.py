"""Processes this code started: stopped, paused and resumed by their PID, never others."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable


def stop(process: subprocess.Popen[bytes], timeout_s: float = 20.0) -> None:
    """SIGTERM, then SIGKILL if it does not exit: only for processes we started."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until(
    process: subprocess.Popen[bytes],
    ready: Callable[[], bool],
    failure: str,
    timeout_s: float,
    poll_s: float = 0.05,
) -> None:
    """Until `ready()` holds; stops the process and raises RuntimeError(failure) if it
    exits or time runs out first."""
    deadline = time.monotonic() + timeout_s
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            raise RuntimeError(failure)
        time.sleep(poll_s)


class OwnServer:
    """A server process we started; only such processes are paused, killed or stopped."""

    process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None, "not started"
        return self.process.pid

    def pause(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL: no shutdown of any kind (a crash)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None

    def stop(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.resume()
            stop(self.process)
        self.process = None
