"""Instructions per call of the online feature step (features.online.online_matrix) at
batch 1 and batch 8: the native kernel beside the numpy reference it replaced
(features/reference.py), on real window reads, counted by callgrind in one run.

    .venv/bin/python loadtest/bench_features.py [--calls 200]

First (not counted) a generated history is scored through a Redis window store of our
own (valkey, on a free loopback port), in batches of 1 and of 8, and the last calls'
requests and replies are kept. Then, per path and batch size, a child process under
`valgrind --tool=callgrind --instr-atstart=no` loads them, warms up, and counts only the
timed calls (callgrind_control switches counting on around them). Needs valgrind.
"""

from __future__ import annotations

import argparse
import asyncio
import pickle
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from callgrind import counted  # loadtest/callgrind.py, beside this script

PATHS = {
    "numpy reference": "features.reference:online_matrix",
    "native kernel": "features.online:online_matrix",
}
BATCHES = (1, 8)
Calls = list[tuple[list[Any], list[Any]]]


def record(calls: int, path: Path) -> None:
    """Score a generated history through a real store; keep the last `calls` calls of
    each batch size (requests and replies) in `path`."""
    import redis.asyncio as aioredis

    from app.schemas.score import ScoreRequest
    from cli.traffic import request_bodies
    from features.redis_store import RedisWindowStore
    from localservers import RedisServer
    from synthetic.generator import GeneratorConfig, generate

    frame = generate(GeneratorConfig(days=10, cards=300, seed=5)).sort_values("timestamp")
    txs = [ScoreRequest.model_validate(b).to_online() for b in request_bodies(frame)]
    server = RedisServer().start()

    async def replay(batch: int, prefix: str) -> Calls:
        client = aioredis.Redis.from_url(server.url)
        store = RedisWindowStore(client, prefix, 60_000, replay=True)
        kept: Calls = []
        try:
            for i in range(0, len(txs) - batch + 1, batch):
                chunk = txs[i : i + batch]
                reads = await store.read_and_record([t.event for t in chunk])
                kept = [*kept[-(calls - 1) :], (chunk, reads)]
        finally:
            await client.aclose()
        return kept

    try:
        kept = {batch: asyncio.run(replay(batch, f"bench{batch}")) for batch in BATCHES}
    finally:
        server.cleanup()
    path.write_bytes(pickle.dumps(kept))


def child(function: str, batch: int, data: Path, go: Path) -> None:
    """Under callgrind: warm up, then run the recorded calls between the parent's marks."""
    import importlib

    module, name = function.split(":")
    compute = getattr(importlib.import_module(module), name)
    calls: Calls = pickle.loads(data.read_bytes())[batch]
    for txs, reads in calls[:10]:
        compute(txs, reads)
    go.with_suffix(".ready").touch()
    while not go.exists():
        time.sleep(0.05)
    for txs, reads in calls:
        compute(txs, reads)
    go.with_suffix(".done").touch()
    while go.exists():
        time.sleep(0.05)


def count(function: str, batch: int, data: Path, calls: int) -> int:
    """Instructions per call of `function` on the recorded calls of one batch size."""
    command = [sys.executable, __file__, "--child", function, str(batch), str(data)]
    return counted(command)[0] // calls


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--child", nargs=3, metavar=("FUNCTION", "BATCH", "DATA"))
    parser.add_argument("--go", type=Path, help="with --child: the marks' path (callgrind.py)")
    args = parser.parse_args()
    if args.child:
        function, batch, data = args.child
        child(function, int(batch), Path(data), args.go)
        return
    if not shutil.which("valgrind"):
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    with tempfile.TemporaryDirectory(prefix="fraud-features-") as tmp:
        data = Path(tmp) / "calls.pickle"
        record(args.calls, data)
        figures = {
            (name, batch): count(function, batch, data, args.calls)
            for batch in BATCHES
            for name, function in PATHS.items()
        }
    print(f"instructions per online_matrix call ({args.calls} calls of real window reads each)")
    print(f"{'':<18}" + "".join(f"{f'batch {b}':>14}{'per row':>12}" for b in BATCHES))
    for name in PATHS:
        row = "".join(f"{figures[name, b]:>14,}{figures[name, b] // b:>12,}" for b in BATCHES)
        print(f"{name:<18}{row}")
    (reference, native) = PATHS
    ratios = ", ".join(
        f"batch {b}: {figures[native, b] / figures[reference, b]:.3f}" for b in BATCHES
    )
    print(f"kernel / reference: {ratios}")


if __name__ == "__main__":
    main()
