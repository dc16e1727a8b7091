"""`make quality-protocol`: model quality measured as deployed (docs/model-quality.md). For
each preset and seed: `fraud generate` a history of D + W days, `fraud train --until` the
moment D days after its first day, `fraud evaluate --since` that moment; then the mean and
range over seeds of each model's figures, as Markdown and JSON in reports/protocol/.

    .venv/bin/python scripts/quality_protocol.py [--presets default:8000 ...] [--seeds 1 2 3]
        [--cards-scale 0.25] [--train-days 60] [--scored-days 14] [--train-arg=--refit]

The three steps are the `fraud` commands themselves, run as subprocesses of this Python,
so the protocol measures what an operator runs. Generated histories are kept in
data/protocol/ and reused (the same preset, cards, days and seed give the same file);
bundles and evaluations go under --out, so two variants (say `--train-arg=--refit`
with another --out) can be compared on the same histories.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from ensemble.as_of import shown_ms
from ensemble.protocol import Preset, Run, cut_moment, figures, summary, table
from features.encode import parse_timestamps

# The Makefile's QUALITY_PRESETS: the histories of docs/model-quality.md.
PRESETS = ("default:8000", "terminals:10000", "mixed:15000")
SEEDS = (1, 2, 3)


class StepFailed(RuntimeError):
    """A `fraud` command exited non-zero; its message says which and why."""


def fraud(*args: str) -> str:
    """Run `fraud ARGS` with this interpreter (so in this environment); its stdout."""
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise StepFailed(f"fraud {' '.join(args)} exited {done.returncode}:\n{tail}")
    return done.stdout


def first_ms(path: Path) -> int:
    """The history's first event time, read from the file (its timestamp column only)."""
    stamps = pq.read_table(path, columns=["timestamp"]).column("timestamp").to_pandas()
    ms, _ = parse_timestamps(stamps)
    return int(ms.min())


def one_run(preset: Preset, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    days = args.train_days + args.scored_days
    stem = f"{preset.name}_{preset.cards}c_{days}d_s{seed}"
    data = args.data / f"{stem}.parquet"
    if not data.exists():
        fraud(
            "generate", "--preset", preset.name, "--cards", str(preset.cards),
            "--seed", str(seed), "--days", str(days), "--out", str(data),
        )  # fmt: skip
    until = shown_ms(cut_moment(first_ms(data), args.train_days))
    model = args.out / "models" / stem
    started = time.perf_counter()
    fraud(
        "train", "--data", str(data), "--out", str(model), "--seed", str(seed),
        "--until", until, *args.train_arg,
    )  # fmt: skip
    trained_s = time.perf_counter() - started
    evaluated = json.loads(
        fraud("evaluate", "--data", str(data), "--model", str(model), "--since", until)
    )
    (args.out / "runs").mkdir(parents=True, exist_ok=True)
    (args.out / "runs" / f"{stem}.json").write_text(json.dumps(evaluated, indent=2))
    manifest = json.loads((model / "manifest.json").read_text())
    return {
        "preset": preset.name,
        "cards": preset.cards,
        "seed": seed,
        "data": str(data),
        "until": until,
        "model": str(model),
        "train_seconds": round(trained_s, 1),
        "trained_on": manifest["training_data"],
        "scored_rows": evaluated["rows"],
        "scored_fraud_rows": evaluated["fraud_rows"],
        "figures": figures(evaluated),
    }


def markdown(args: argparse.Namespace, presets: list[Preset], runs: list[Run]) -> str:
    shown = ", ".join(f"`{p.name}` ({p.cards:,} cards)" for p in presets)
    extra = " ".join(args.train_arg) or "none"
    return "\n".join(
        [
            "# Model quality as deployed",
            "",
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC. Histories {shown}; seeds "
            f"{', '.join(map(str, args.seeds))} (of the history and of training). Each: "
            f"trained on its first {args.train_days} days as exported then (`fraud train "
            f"--until`), measured on the {args.scored_days} days after (`fraud evaluate "
            f"--since`). Extra train flags: {extra}. Mean over seeds (min–max).",
            "",
            table(runs),
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presets", nargs="+", default=list(PRESETS), help="NAME:CARDS ...")
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    parser.add_argument("--cards-scale", type=float, default=1.0, help="multiplies the cards")
    parser.add_argument("--train-days", type=int, default=60, help="D: history trained on")
    parser.add_argument("--scored-days", type=int, default=14, help="W: days scored after")
    parser.add_argument(
        "--train-arg",
        action="append",
        default=[],
        help="a flag for fraud train, as --train-arg=--trees=200; repeatable",
    )
    parser.add_argument("--data", type=Path, default=Path("data/protocol"))
    parser.add_argument("--out", type=Path, default=Path("reports/protocol"))
    args = parser.parse_args()
    if args.train_days < 1 or args.scored_days < 1 or args.cards_scale <= 0:
        parser.error("--train-days and --scored-days must be >= 1, --cards-scale > 0")
    try:
        presets = [Preset.parse(p).scaled(args.cards_scale) for p in args.presets]
    except ValueError as exc:
        parser.error(str(exc))

    done: list[dict[str, Any]] = []
    for preset in presets:
        for seed in args.seeds:
            started = time.perf_counter()
            try:
                run = one_run(preset, seed, args)
            except StepFailed as exc:
                print(f"{preset.name} seed {seed}: {exc}", file=sys.stderr)
                return 1
            done.append(run)
            ap = {m: f["average_precision"] for m, f in run["figures"].items()}
            print(
                f"{preset.name} ({preset.cards:,} cards) seed {seed}: trained until "
                f"{run['until']}, scored {run['scored_rows']:,} rows "
                f"({run['scored_fraud_rows']:,} fraud) in {time.perf_counter() - started:.0f} s;"
                f" average precision {json.dumps(ap)}",
                file=sys.stderr,
            )
    runs = [Run(r["preset"], r["seed"], r["figures"]) for r in done]
    text = markdown(args, presets, runs)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "protocol.md").write_text(text)
    (args.out / "protocol.json").write_text(
        json.dumps(
            {
                "train_days": args.train_days,
                "scored_days": args.scored_days,
                "seeds": args.seeds,
                "train_args": args.train_arg,
                "runs": done,
                "summary": summary(runs),
            },
            indent=2,
        )
    )
    print(text)
    print(f"wrote {args.out / 'protocol.md'} and {args.out / 'protocol.json'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
