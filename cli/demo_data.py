"""The demo's transactions: one generated world (the training history's cards, seed 7) run
past the history, moved in time so that its traffic starts this week. After the training
history come the days to the next Monday, then the past: PAST_WEEKS whole ISO weeks (as a
report counts them) scored through the API before the traffic and labelled by the
chargebacks reported since (cli/demo_past.py), then TRAFFIC_DAYS of live traffic, from a
Monday. The history before the past is backfilled into the online state before the first request (cli/backfill.py), so the demo's
cards arrive with their past, as a deployment's do after `fraud backfill`, instead of every
card looking new (42% of a cold start's first minute was flagged).

The shift is a whole number of weeks: the hour of day and the day of week, which the
features read, stay those the generator drew."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from features.dataset import read_transactions, write_transactions
from features.encode import parse_timestamps
from synthetic.generator import GeneratorConfig, generate

TRAFFIC_DAYS = 14
PAST_WEEKS = 4  # whole ISO weeks of scored past before the traffic
SEED = 7  # the training history's (cli/demo.py ensure_model)


def past_days(days: int, weeks: int = PAST_WEEKS) -> int:
    """The days between a `days`-day training history and the traffic: to the first Monday
    after it (those days are backfilled with the history), then `weeks` whole ISO weeks of
    past. The traffic starts on a Monday; the shift keeps the weekday. 0 weeks: no past."""
    if weeks <= 0:
        return 0
    end = GeneratorConfig().start + timedelta(days=days)
    return (7 - end.weekday()) % 7 + weeks * 7


def world(
    data_dir: Path,
    days: int,
    cards: int,
    label_delay_days: float,
    seed: int = SEED,
    past: int = 0,
) -> tuple[Path, datetime]:
    """The generated file (made once, kept in data_dir) and where its traffic starts: after
    the first `days` days, the history the model is trained on, and `past` days more. Fraud
    is reported `label_delay_days` after it on average (the backfill applies a label from
    then on)."""
    config = GeneratorConfig(
        days=days + past + TRAFFIC_DAYS, cards=cards, seed=seed, label_delay_days=label_delay_days
    )
    span = f"{days}+{past}+{TRAFFIC_DAYS}d" if past else f"{days}+{TRAFFIC_DAYS}d"
    name = f"demo_world_{span}_{cards}_{label_delay_days:g}"
    path = data_dir / (name + ("" if seed == SEED else f"_seed{seed}") + ".parquet")
    if not path.exists():
        write_transactions(generate(config), path)
    return path, config.start + timedelta(days=days + past)


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


@dataclass(frozen=True, slots=True)
class RunFiles:
    """One run's parts of the world, as files (removed at exit), and the past's span."""

    history: Path  # before the past: backfilled
    past: Path  # [past_start, traffic_start): scored, then labelled
    traffic: Path  # from traffic_start: replayed live
    past_start: datetime
    traffic_start: datetime

    @property
    def paths(self) -> tuple[Path, Path, Path]:
        return self.history, self.past, self.traffic


def write_run_files(
    data_dir: Path,
    tag: str,
    days: int,
    cards: int,
    label_delay_days: float,
    now: datetime | None = None,
    past_weeks: int = PAST_WEEKS,
) -> RunFiles:
    """This run's history to backfill, past to score and traffic to replay, as files."""
    path, traffic_start = world(
        data_dir, days, cards, label_delay_days, past=past_days(days, past_weeks)
    )
    now = now or datetime.now(UTC)
    before, traffic = split_world(path, traffic_start, now)
    by = weeks_to(traffic_start, now)
    past_start = traffic_start + by - timedelta(weeks=max(past_weeks, 0))
    ms, _ = parse_timestamps(before["timestamp"])
    in_past = ms >= past_start.timestamp() * 1000
    files = RunFiles(
        history=data_dir / f"{tag}.history.parquet",
        past=data_dir / f"{tag}.past.parquet",
        traffic=data_dir / f"{tag}.traffic.parquet",
        past_start=past_start,
        traffic_start=traffic_start + by,
    )
    write_transactions(before[~in_past], files.history)
    write_transactions(before[in_past], files.past)
    write_transactions(traffic, files.traffic)
    return files
