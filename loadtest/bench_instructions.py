"""Instructions per request of /v1/score and of the no-op, counted by callgrind: unlike
seconds, instruction counts repeat to a fraction of a percent on this shared machine, so
a change of a few percent can be seen in one run.

    .venv/bin/python loadtest/bench_instructions.py [--requests 640] [--model models/bench] [--concurrency 64 ...]

Each app runs in-process under `valgrind --tool=callgrind --instr-atstart=no`
(loadtest/asgi_driver.py: no sockets, no HTTP parsing, which both would share);
counting is switched on with callgrind_control only around the timed requests, after
start-up and a warm-up. --concurrency (several allowed: each is measured) sets the requests in
flight: 1 gives computations of one request, 8 of about 8 (the rows per computation are
printed). --kafka records the decisions as production does: the durable audit log, shipped to
a tansu broker (its linger, FRAUD_AUDIT_SEND_LINGER_MS, is wall time: under callgrind fewer
decisions share a send than at full speed). --without-compute replaces /v1/score's compute
stage (features, models, reasons, rules) by a fixed decision: what the rest of a request
costs. --traffic swarm sends `make perf`'s transactions (1,000 a second, the windows warmed first)
instead of uniform ones over 50,000 cards. Needs valgrind (apt-get install valgrind); Redis is
FRAUD_REDIS_URL if it answers, else one started for the run (without it every answer would
be degraded, which the driver refuses).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from callgrind import counted  # loadtest/callgrind.py, beside this script

from cli.demo import ensure_server
from cli.traffic import request_bodies
from features.dataset import read_transactions, write_transactions
from localservers import RedisServer, TansuBroker, redis_reachable
from synthetic.generator import GeneratorConfig, generate

APPS = {
    "no-op (parse + validate)": "loadtest.noop_app:create_noop_app",
    "/v1/score": "app.main:create_app",
}


ROOT = Path(__file__).resolve().parent.parent
# The swarm's traffic (loadtest/run_perf.py's history): generated transactions in their
# order, 1,000 a second, as `make perf`'s 1,000 users send them.
SWARM = GeneratorConfig(days=14, cards=5_000, seed=31)


@dataclass(frozen=True)
class Traffic:
    """Request bodies in a file, one a line; the first `warm` are sent before measuring."""

    bodies: Path
    warm: int


def swarm_bodies(path: Path, count: int) -> None:
    """The first `count` of the swarm's bodies, stamped 1 ms apart (replay event time)."""
    start = datetime(2026, 6, 1, 12, tzinfo=UTC)
    stored = path.with_suffix(".parquet")
    write_transactions(generate(SWARM), stored)
    history = read_transactions(stored)  # as the swarm reads it
    with path.open("wb") as out:
        for i, body in zip(range(count), request_bodies(history), strict=False):
            moment = start + timedelta(milliseconds=i)
            body |= {
                "transaction_id": f"sw_{i}",
                "timestamp": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            }
            out.write(orjson.dumps(body) + b"\n")


def count(
    app: str,
    requests: int,
    model: Path,
    concurrency: int,
    tree: Path = ROOT,
    kafka: str = "",
    without_compute: bool = False,
    traffic: Traffic | None = None,
) -> tuple[int, str]:
    """Instructions per request of `app` as the code in `tree` has it, and what the driver
    printed. With `kafka` (a bootstrap address), /v1/score records its decisions as in
    production: the durable audit log, shipped to that broker. With `traffic`, its bodies,
    the first `traffic.warm` of them sent beforehand by the driver run natively (the
    windows warmed at full speed) under the key prefix the measured run then uses."""
    with tempfile.TemporaryDirectory(prefix="fraud-audit-") as tmp:
        env = os.environ | {"PYTHONPATH": str(tree), "FRAUD_MODEL_DIR": str(model.resolve())}
        driver = [sys.executable, str(ROOT / "loadtest" / "asgi_driver.py"), app]
        bodies: list[str] = []
        if traffic is not None:
            prefix = f"drv{uuid.uuid4().hex[:6]}"
            bodies = ["--bodies", str(traffic.bodies), "--prefix", prefix]
            if traffic.warm:
                warm = [*driver, "0", *bodies, "--warm", str(traffic.warm), "--keep-keys"]
                subprocess.run(warm, env=env, cwd=tree, check=True, stderr=subprocess.DEVNULL)
            bodies += ["--skip", str(traffic.warm)]
        if kafka:
            env |= {
                "FRAUD_KAFKA_BOOTSTRAP_SERVERS": kafka,
                "FRAUD_AUDIT_IDEMPOTENCE": "false",  # tansu
                "FRAUD_AUDIT_DURABILITY": "log",
                "FRAUD_AUDIT_LOG_DIR": str(Path(tmp) / "audit-log"),
                "FRAUD_SPOOL_PATH": str(Path(tmp) / "audit.spool"),
            }
        command = [
            *driver,
            str(requests),
            *bodies,
            "--concurrency",
            str(concurrency),
            "--warm",
            str(max(requests, 10 * concurrency)),
            *(["--without-compute"] if without_compute else []),
        ]
        total, printed = counted(command, env, tree)
    return total // requests, printed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=640)
    parser.add_argument("--model", type=Path, default=Path("models/bench"))
    parser.add_argument("--concurrency", type=int, nargs="+", default=[64])
    parser.add_argument(
        "--without-compute",
        action="store_true",
        help="/v1/score with its compute stage (features, models, reasons) replaced by a fixed "
        "decision: what the rest of a request costs",
    )
    parser.add_argument(
        "--kafka",
        action="store_true",
        help="record the decisions as production does (the durable audit log, shipped to a "
        "tansu broker started for the run)",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="also measure /v1/score as the code in this directory has it (e.g. a `git archive` "
        "of an earlier commit), with this script's driver, and print the ratio",
    )
    parser.add_argument(
        "--traffic",
        choices=("uniform", "swarm"),
        default="uniform",
        help="uniform: the driver's bodies (50,000 cards, 5,000 merchants: windows nearly "
        "empty); swarm: `make perf`'s generated transactions in order, 1,000 a second, the "
        "windows warmed by --warm-swarm of them sent beforehand at full speed",
    )
    parser.add_argument("--warm-swarm", type=int, default=30_000)
    args = parser.parse_args()
    if not shutil.which("valgrind"):
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    with ExitStack() as stack:
        # Without a Redis every answer is degraded (no features): the driver refuses those.
        redis_url = ensure_server(
            "redis",
            os.environ.get("FRAUD_REDIS_URL", "redis://127.0.0.1:6379/0"),
            redis_reachable,
            RedisServer,
            stack,
            print,
        )
        os.environ["FRAUD_REDIS_URL"] = redis_url
        kafka = ""
        if args.kafka:
            broker = TansuBroker().start()
            stack.callback(broker.cleanup)
            kafka = broker.bootstrap
        traffic = None
        if args.traffic == "swarm":
            scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="swarm-")))
            needed = args.warm_swarm + max(args.requests, 10 * max(args.concurrency))
            swarm_bodies(scratch / "bodies.jsonl", needed + args.requests)
            traffic = Traffic(scratch / "bodies.jsonl", args.warm_swarm)
        compare(args, kafka, traffic)


def compare(args: argparse.Namespace, kafka: str, traffic: Traffic | None) -> None:
    for concurrency in args.concurrency:
        runs = [(name, app, ROOT) for name, app in APPS.items()]
        if args.baseline:
            runs.append(("/v1/score, baseline", APPS["/v1/score"], args.baseline.resolve()))
        figures = {}
        for name, app, tree in runs:
            without_compute = args.without_compute and app == APPS["/v1/score"]
            figures[name], printed = count(
                app, args.requests, args.model, concurrency, tree, kafka, without_compute, traffic
            )
            rows = re.search(r"rows per computation: ([\d.]+)", printed)
            batch = f"  ({rows.group(1)} rows per computation)" if rows else ""
            print(f"{name:<28} {figures[name]:>12,} instructions per request{batch}")
        noop, score = figures["no-op (parse + validate)"], figures["/v1/score"]
        print(
            f"/v1/score costs {score / noop:.2f}x the no-op's instructions (in-process, "
            f"{args.requests} requests, {concurrency} in flight, {args.traffic} traffic)"
        )
        if args.baseline:
            base = figures["/v1/score, baseline"]
            print(
                f"/v1/score costs {score / base:.3f}x the baseline's ({score - base:+,} per request)"
            )


if __name__ == "__main__":
    main()
