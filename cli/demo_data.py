"""The demo's transactions: one generated world (the training history's cards, seed 7) run
14 days past the history, moved in time so that its traffic starts today. The weeks before
the traffic are backfilled into the online state before the first request (cli/backfill.py),
so the demo's cards arrive with their past, as a deployment's do after `fraud backfill`,
instead of every card looking new (42% of a cold start's first minute was flagged).

The shift is a whole number of weeks: the hour of day and the day of week, which the
features read, stay those the generator drew."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from features.dataset import read_transactions, write_transactions
from features.encode import parse_timestamps
from synthetic.generator import GeneratorConfig, generate

TRAFFIC_DAYS = 14
SEED = 7  # the training history's (cli/demo.py ensure_model)


def world(
    data_dir: Path, days: int, cards: int, label_delay_days: float, seed: int = SEED
) -> tuple[Path, datetime]:
    """The generated file (made once, kept in data_dir) and where its traffic starts: after
    the first `days` days, the history the model is trained on. Fraud is reported
    `label_delay_days` after it on average (the backfill applies a label from then on)."""
    config = GeneratorConfig(
        days=days + TRAFFIC_DAYS, cards=cards, seed=seed, label_delay_days=label_delay_days
    )
    name = f"demo_world_{days}+{TRAFFIC_DAYS}d_{cards}_{label_delay_days:g}"
    path = data_dir / (name + ("" if seed == SEED else f"_seed{seed}") + ".parquet")
    if not path.exists():
        write_transactions(generate(config), path)
    return path, config.start + timedelta(days=days)


def weeks_to(moment: datetime, now: datetime) -> timedelta:
    """The whole weeks that bring `moment` to at most a week before `now` (never later)."""
    return timedelta(weeks=(now - moment) // timedelta(weeks=1))


def shifted(frame: pd.DataFrame, by: timedelta) -> pd.DataFrame:
    """The rows with every time moved by `by`, each keeping its UTC offset."""
    out = frame.copy()
    for column in ("timestamp", "label_reported_at"):
        if column in out.columns:
            out[column] = [
                None
                if not isinstance(v, str) or not v
                else (datetime.fromisoformat(v) + by).isoformat(timespec="milliseconds")
                for v in out[column]
            ]
    return out


def split_world(
    path: Path, traffic_start: datetime, now: datetime | None = None, exact: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the history before the traffic, the traffic), moved so the traffic starts within
    the week before `now` (`exact`: at `now`, for traffic whose times are restamped as it
    is sent, like the Locust swarm's)."""
    frame = read_transactions(path)
    ms, _ = parse_timestamps(frame["timestamp"])
    before = ms < traffic_start.timestamp() * 1000
    now = now or datetime.now(UTC)
    by = now - traffic_start if exact else weeks_to(traffic_start, now)
    return shifted(frame[before], by), shifted(frame[~before], by)


def write_run_files(
    data_dir: Path,
    tag: str,
    days: int,
    cards: int,
    label_delay_days: float,
    now: datetime | None = None,
) -> tuple[Path, Path]:
    """This run's history to backfill and traffic to replay, as files (removed at exit)."""
    path, traffic_start = world(data_dir, days, cards, label_delay_days)
    history, traffic = split_world(path, traffic_start, now)
    history_path = data_dir / f"{tag}.history.parquet"
    traffic_path = data_dir / f"{tag}.traffic.parquet"
    write_transactions(history, history_path)
    write_transactions(traffic, traffic_path)
    return history_path, traffic_path
