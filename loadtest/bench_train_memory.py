"""Peak memory of `fraud train` per training row: this checkout, and beside it another
one (an older commit, exported with `git archive`) in the same run.

    .venv/bin/python loadtest/bench_train_memory.py [--days 60 --cards 20000] [--baseline DIR]

Generates the history once (not measured) into a temporary Parquet file, then runs
`python -m cli.main train` on it for each tree, one after the other, each in a process of
its own with the tree first on PYTHONPATH (the same virtualenv), and reads that process's
peak resident set from wait4 (what /usr/bin/time -v prints as "Maximum resident set size").
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from features.dataset import write_transactions
from synthetic.generator import GeneratorConfig, generate

ROOT = Path(__file__).resolve().parent.parent


def train(tree: Path, data: Path, out: Path) -> tuple[int, float]:
    """Peak RSS in bytes and wall seconds of one `fraud train` from `tree`."""
    env = os.environ | {"PYTHONPATH": str(tree)}
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "train", "--data", str(data), "--out", str(out)],
        cwd=tree,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        assert process.stderr is not None
        raise RuntimeError(
            f"fraud train in {tree} failed: {process.stderr.read().decode()[-2000:]}"
        )
    return usage.ru_maxrss * 1024, seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--cards", type=int, default=20_000)
    parser.add_argument("--baseline", type=Path, help="another checkout to measure beside this one")
    args = parser.parse_args()
    trees = {"this checkout": ROOT} | (
        {"baseline": args.baseline.resolve()} if args.baseline else {}
    )
    with tempfile.TemporaryDirectory(prefix="fraud-train-memory-") as tmp:
        frame = generate(GeneratorConfig(days=args.days, cards=args.cards))
        data = Path(tmp) / "history.parquet"
        write_transactions(frame, data)
        rows = len(frame)
        del frame
        figures = {
            name: train(tree, data, Path(tmp) / f"model-{i}")
            for i, (name, tree) in enumerate(trees.items())
        }
    print(f"fraud train on {rows:,} rows ({args.days} days, {args.cards:,} cards)")
    for name, (peak, seconds) in figures.items():
        print(
            f"{name:<14} peak RSS {peak / 2**30:5.2f} GiB = {peak / rows:6,.0f} bytes per row; "
            f"{seconds:5.0f} s"
        )
    if args.baseline:
        ours, theirs = figures["this checkout"][0], figures["baseline"][0]
        print(f"this checkout / baseline: {ours / theirs:.2f} of the peak memory")


if __name__ == "__main__":
    main()
