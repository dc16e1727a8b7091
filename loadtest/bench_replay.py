"""Offline feature replay throughput on one core.

    .venv/bin/python loadtest/bench_replay.py [--days 60 --cards 20000]

Pins itself to one CPU, generates the history (not timed), then times
validation + encoding + window indexing + all features.
"""

from __future__ import annotations

import argparse
import os
import time

from features.definitions import FEATURE_NAMES
from features.encode import prepare_history
from features.replay import ReplayStore
from synthetic.generator import GeneratorConfig, generate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--cards", type=int, default=20_000)
    args = parser.parse_args()
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    t0 = time.perf_counter()
    frame = generate(GeneratorConfig(days=args.days, cards=args.cards))
    t1 = time.perf_counter()
    history = prepare_history(frame, 7.0)
    t2 = time.perf_counter()
    store = ReplayStore(history.tx, history.label_known_at, history.frame["is_fraud"].to_numpy())
    matrix = store.matrix()
    t3 = time.perf_counter()
    n = len(frame)
    print(f"generated {n:,} transactions in {t1 - t0:.1f} s ({n / (t1 - t0):,.0f}/s)")
    print(
        f"validate + encode: {t2 - t1:.1f} s; windows + {len(FEATURE_NAMES)} features: {t3 - t2:.1f} s"
    )
    print(
        f"replay throughput on one core: {n / (t3 - t1):,.0f} transactions/s (matrix {matrix.shape})"
    )


if __name__ == "__main__":
    main()
