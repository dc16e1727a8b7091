"""Offline feature replay throughput on one core: the native kernel beside the numpy
reference it replaced, in one run.

    .venv/bin/python loadtest/bench_replay.py [--days 60 --cards 20000] [--no-reference]

Pins itself to one CPU, generates the history (not timed), then times validation +
encoding, and the windows + all features by the kernel (ReplayStore.matrix) and by the
numpy reference (ReplayStore.columns, then the float32 matrix). Throughput counts
validation + encoding + features, as `fraud train` pays them.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from features.compute import feature_matrix
from features.definitions import FEATURE_NAMES
from features.encode import prepare_history
from features.replay import ReplayStore
from synthetic.generator import GeneratorConfig, generate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--cards", type=int, default=20_000)
    parser.add_argument(
        "--no-reference",
        action="store_true",
        help="time the kernel only (the reference takes ~10x)",
    )
    args = parser.parse_args()
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    t0 = time.perf_counter()
    frame = generate(GeneratorConfig(days=args.days, cards=args.cards))
    t1 = time.perf_counter()
    history = prepare_history(frame, 7.0)
    prepare = time.perf_counter() - t1
    fraud = history.frame["is_fraud"].to_numpy()
    n = len(frame)
    print(f"generated {n:,} transactions in {t1 - t0:.1f} s ({n / (t1 - t0):,.0f}/s)")
    print(f"validate + encode: {prepare:.1f} s")

    def timed(name: str, replay: ReplayStore, run: str) -> np.ndarray:
        started = time.perf_counter()
        matrix: np.ndarray = (
            replay.matrix() if run == "kernel" else feature_matrix(replay.columns(), n)
        )
        seconds = time.perf_counter() - started
        print(
            f"{name:<16} windows + {len(FEATURE_NAMES)} features: {seconds:5.1f} s "
            f"({n / seconds:,.0f} rows/s); with validate + encode: "
            f"{n / (seconds + prepare):,.0f} transactions/s (matrix {matrix.shape})"
        )
        return matrix

    native = timed(
        "native kernel", ReplayStore(history.tx, history.label_known_at, fraud), "kernel"
    )
    if args.no_reference:
        return
    reference = timed(
        "numpy reference", ReplayStore(history.tx, history.label_known_at, fraud), "reference"
    )
    differ = ~((native == reference) | (np.isnan(native) & np.isnan(reference)))
    print(f"values that differ between the two matrices: {int(differ.sum()):,} of {differ.size:,}")


if __name__ == "__main__":
    main()
