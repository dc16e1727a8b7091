"""Peak memory of `fraud train` and `fraud evaluate` per row: this checkout, and beside it
other ones (older commits, each exported with `git archive` into a directory named after
it) in the same run.

    .venv/bin/python loadtest/bench_train_memory.py [--days 60 --cards 20000] [--baseline DIR ...]

Generates the history once (not measured) into a temporary Parquet file, then for each tree,
one after the other, runs `python -m cli.main train` on it and `python -m cli.main evaluate`
of the same file with the model just trained, each in a process of its own with the tree
first on PYTHONPATH (the same virtualenv), and reads that process's peak resident set from
wait4 (what /usr/bin/time -v prints as "Maximum resident set size"; a child such as the
compiler counts where it is larger). Each baseline's model is compared with this
checkout's: the same trees and the same metrics mean the same model.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from features.dataset import write_transactions
from synthetic.generator import GeneratorConfig, generate

ROOT = Path(__file__).resolve().parent.parent


def run(tree: Path, output: Path, *args: str) -> tuple[int, float]:
    """Peak RSS in bytes and wall seconds of one `fraud` command from `tree`; what it
    prints goes to `output`."""
    env = os.environ | {"PYTHONPATH": str(tree)}
    started = time.perf_counter()
    with output.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli.main", *args],
            cwd=tree,
            env=env,
            stdout=out,
            stderr=subprocess.PIPE,
        )
    assert process.stderr is not None
    errors = process.stderr.read()  # until it exits: a full pipe would stall it
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        raise RuntimeError(f"fraud {args[0]} in {tree} failed: {errors.decode()[-2000:]}")
    return usage.ru_maxrss * 1024, seconds


def same_model(a: Path, b: Path) -> str:
    """Whether two bundles hold the same XGBoost trees and report the same metrics in
    training (manifest) and in evaluation (what `fraud evaluate` printed, but the model's
    name)."""
    trees = [json.loads((m / "xgboost.json").read_text()) for m in (a, b)]
    metrics = [json.loads((m / "manifest.json").read_text())["metrics"] for m in (a, b)]
    evaluated = [json.loads((m / "evaluate.json").read_text()) for m in (a, b)]
    for e in evaluated:
        e.pop("model_version")
    return ", ".join(
        f"{what} {'equal' if x == y else 'DIFFERENT'}"
        for what, (x, y) in (
            ("XGBoost trees", trees),
            ("training metrics", metrics),
            ("evaluate's metrics", evaluated),
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--cards", type=int, default=20_000)
    parser.add_argument(
        "--baseline",
        type=Path,
        action="append",
        default=[],
        help="another checkout to measure beside this one (repeatable)",
    )
    args = parser.parse_args()
    trees = {"this checkout": ROOT} | {
        path.resolve().name: path.resolve() for path in args.baseline
    }
    others = [name for name in trees if name != "this checkout"]
    figures: dict[str, dict[str, tuple[int, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="fraud-train-memory-") as tmp:
        frame = generate(GeneratorConfig(days=args.days, cards=args.cards))
        data = Path(tmp) / "history.parquet"
        write_transactions(frame, data)
        rows = len(frame)
        del frame
        models = {name: Path(tmp) / f"model-{i}" for i, name in enumerate(trees)}
        for name, tree in trees.items():
            model = models[name]
            figures[name] = {
                "train": run(
                    tree,
                    Path(tmp) / f"{model.name}.log",
                    "train",
                    "--data",
                    str(data),
                    "--out",
                    str(model),
                ),
                "evaluate": run(
                    tree,
                    model / "evaluate.json",
                    "evaluate",
                    "--data",
                    str(data),
                    "--model",
                    str(model),
                ),
            }
        compared = {name: same_model(models["this checkout"], models[name]) for name in others}
    print(f"on {rows:,} rows ({args.days} days, {args.cards:,} cards)")
    for command in ("train", "evaluate"):
        for name, measured in figures.items():
            peak, seconds = measured[command]
            print(
                f"fraud {command:<8} {name:<14} peak RSS {peak / 2**30:5.2f} GiB = "
                f"{peak / rows:6,.0f} bytes per row; {seconds:5.0f} s"
            )
        for name in others:
            ours, theirs = figures["this checkout"][command], figures[name][command]
            print(
                f"fraud {command:<8} this checkout / {name}: {ours[0] / theirs[0]:.2f} of the "
                f"peak memory, {ours[1] / theirs[1]:.2f} of the time"
            )
    for name, verdict in compared.items():
        print(f"models, this checkout against {name}: {verdict}")


if __name__ == "__main__":
    main()
