"""Instructions counted by callgrind between two marks of a child process: the protocol
bench_features.py and bench_instructions.py share.

The child runs under `valgrind --tool=callgrind --instr-atstart=no` with a GO path: it
does its set-up and warm-up, creates GO.ready, waits for GO, does the counted work,
creates GO.done and waits for GO to be removed. Counting is switched on with
callgrind_control only in between.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from pathlib import Path


def counted(
    command: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> tuple[int, str]:
    """Run `command` followed by `--go GO` under callgrind: the instructions between its
    two marks, and what it printed."""
    with tempfile.TemporaryDirectory(prefix="fraud-callgrind-") as tmp:
        go, out = Path(tmp) / "go", Path(tmp) / "callgrind.out"
        process = subprocess.Popen(
            [
                "valgrind",
                "--tool=callgrind",
                "--instr-atstart=no",
                f"--callgrind-out-file={out}",
                *command,
                "--go",
                str(go),
            ],
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(go.with_suffix(".ready"), process)
            control(process.pid, "-i", "on")
            go.touch()
            wait_for(go.with_suffix(".done"), process)
            control(process.pid, "-i", "off")
            control(process.pid, "-d")
            go.unlink()
            printed = process.communicate(timeout=300)[0].decode()
        finally:
            if process.poll() is None:
                process.kill()
        totals = [
            int(m.group(1))
            for f in Path(tmp).glob("callgrind.out*")
            for m in re.finditer(r"^(?:summary|totals): (\d+)", f.read_text(), re.M)
        ]
    return max(totals), printed


def wait_for(path: Path, process: subprocess.Popen[bytes]) -> None:
    while not path.exists():
        if process.poll() is not None:
            raise RuntimeError(f"the counted process exited with {process.returncode}")
        time.sleep(0.2)


def control(pid: int, *args: str) -> None:
    subprocess.run(["callgrind_control", *args, str(pid)], check=True, capture_output=True)
