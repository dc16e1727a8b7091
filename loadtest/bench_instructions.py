"""Instructions per request of /v1/score and of the no-op, counted by callgrind: unlike
seconds, instruction counts repeat to a fraction of a percent on this shared machine, so
a change of a few percent can be seen in one run.

    .venv/bin/python loadtest/bench_instructions.py [--requests 640] [--model models/bench]

Each app runs in-process under `valgrind --tool=callgrind --instr-atstart=no`
(loadtest/asgi_driver.py: no sockets, no HTTP parsing, which both would share);
counting is switched on with callgrind_control only around the timed requests, after
start-up and a warm-up. Needs valgrind (apt-get install valgrind) and Redis.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

APPS = {
    "no-op (parse + validate)": "loadtest.noop_app:create_noop_app",
    "/v1/score": "app.main:create_app",
}


def count(app: str, requests: int, model: Path) -> int:
    with tempfile.TemporaryDirectory(prefix="fraud-callgrind-") as tmp:
        go = Path(tmp) / "go"
        out = Path(tmp) / "callgrind.out"
        root = Path(__file__).resolve().parent.parent
        env = os.environ | {"PYTHONPATH": str(root), "FRAUD_MODEL_DIR": str(model)}
        process = subprocess.Popen(
            [
                "valgrind",
                "--tool=callgrind",
                "--instr-atstart=no",
                f"--callgrind-out-file={out}",
                sys.executable,
                str(root / "loadtest" / "asgi_driver.py"),
                app,
                str(requests),
                "--go",
                str(go),
            ],
            env=env,
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
            process.wait(timeout=300)
        finally:
            if process.poll() is None:
                process.kill()
        totals = [
            int(m.group(1))
            for f in Path(tmp).glob("callgrind.out*")
            for m in re.finditer(r"^(?:summary|totals): (\d+)", f.read_text(), re.M)
        ]
    return max(totals) // requests


def wait_for(path: Path, process: subprocess.Popen[bytes]) -> None:
    while not path.exists():
        if process.poll() is not None:
            raise RuntimeError(f"the driver exited with {process.returncode}")
        time.sleep(0.2)


def control(pid: int, *args: str) -> None:
    subprocess.run(["callgrind_control", *args, str(pid)], check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=640)
    parser.add_argument("--model", type=Path, default=Path("models/bench"))
    args = parser.parse_args()
    if not shutil.which("valgrind"):
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    figures = {name: count(app, args.requests, args.model) for name, app in APPS.items()}
    for name, n in figures.items():
        print(f"{name:<28} {n:>12,} instructions per request")
    noop, score = figures.values()
    print(
        f"/v1/score costs {score / noop:.2f}x the no-op's instructions (in-process, {args.requests} requests)"
    )


if __name__ == "__main__":
    main()
