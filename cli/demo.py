"""`fraud demo`: the engine on one machine without Docker.

Trains a model if none exists; uses Redis, Kafka and PostgreSQL at their configured
addresses or starts local ones from PyPI wheels (valkey-server, the tansu broker,
PostgreSQL); serves the API, runs the consumer (`fraud consume`) so the decisions are
queryable, scores the weeks before the traffic through it and posts their chargebacks as
they were reported (cli/demo_past.py: what `fraud report` reads), and replays generated
traffic against it until Ctrl-C (or --duration).

Each run is clean: its own Redis key prefix, audit topic, consumer group, spool files
and PostgreSQL schema; all but the consumer group are removed at exit (on a configured
Kafka an empty group is left until the broker expires its offsets). The API's and the
consumer's logs go to files of the run's, kept. Everything it started it stops by PID, in
order: traffic, the API (its producer flushed), the consumer once it has stored what the
API answered, the broker, the databases. Its last line compares the decisions the API
answered (to anyone) with rows stored, as its live line does (cli/demo_counts.py), both
counted from the traffic's start: the past's decisions are counted apart.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager, suppress
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import asyncpg
import redis
from rich.console import Console
from rich.markup import escape

from app.auth import key_id, new_key
from app.logs import TextLines
from app.settings import Settings
from cli.backfill import backfill_into
from cli.demo_counts import AnsweredCounter, StoredCounter, answered_by_api, wait_stored
from cli.demo_data import PAST_WEEKS, write_run_files
from cli.demo_past import PastError, PastSummary, score_past
from cli.demo_status import closing, show_status
from cli.traffic import ReplayReport, replay
from ensemble.bundle import servable_manifest
from ensemble.manifest import BundleError
from ensemble.progress import Progress
from ensemble.train import TrainConfig, train
from features.dataset import write_transactions
from localservers import (
    PostgresServer,
    RedisServer,
    TansuBroker,
    delete_keys,
    free_port,
    port_free,
    postgres_reachable,
    redis_reachable,
    stop,
    tcp_reachable,
    wait_until_ready,
)
from localservers.webhook import WebhookReceiver
from synthetic.generator import GeneratorConfig, generate

Say = Callable[[str], None]
# Ctrl-C, kill, and a closed terminal: each stops the demo in order.
STOPPING_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
CATCH_UP_S = 30.0  # longest wait, at exit, for the consumer to store what was answered
LOG_TAIL_LINES = 20  # of a child's log, shown when it stops the demo
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "score_request.json"
REPORT_DIR = "reports/demo"
REVIEW_COST = 4.5  # an analyst's few minutes, for the report's review cost (docs/reports.md)
DEMO_SEARCH_S = 30.0  # seconds of the training choices search (`fraud train`: 120)


@dataclass(slots=True)
class DemoOptions:
    days: int = 45
    cards: int = 4_000
    port: int = 8000
    rate: float = 50.0
    duration: float | None = None
    past_weeks: int = PAST_WEEKS


@dataclass(frozen=True, slots=True)
class DemoRun:
    """The names this run owns, removed when it stops."""

    tag: str

    @classmethod
    def new(cls) -> DemoRun:
        return cls(f"demo_{os.getpid()}_{secrets.token_hex(3)}")

    def prefix(self, base: str) -> str:
        return f"{base}-{self.tag}"

    @property
    def schema(self) -> str:
        return self.tag

    @property
    def topic(self) -> str:
        return f"{self.tag}.transactions.scored"

    def log(self, data_dir: Path, command: str) -> Path:
        """Where `fraud <command>`'s output goes (kept after the run)."""
        return data_dir / f"{self.tag}.{command}.log"


@dataclass(frozen=True, slots=True)
class Child:
    """A `fraud` command the demo runs. Its output, JSON log lines, goes to a file: on the
    terminal it would break into the live line."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(cls, name: str, log: Path, env: dict[str, str], *args: str) -> Child:
        """`fraud <args>` in a session of its own: Ctrl-C reaches only the demo, which then
        stops each part in order."""
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "cli.main", *args],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return cls(name, process, log)

    def failure(self, what: str) -> str:
        """`what` happened to it, with the end of its log."""
        lines = self.log.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
        return "\n".join([f"{what}; the end of its log, {self.log}:", *lines])


def _usable_bundle(path: Path) -> bool:
    """A bundle this version can serve: same manifest schema and feature set."""
    try:
        servable_manifest(path)
    except BundleError:
        return False
    return True


def ensure_model(settings: Settings, options: DemoOptions, progress: Progress, say: Say) -> None:
    if (settings.model_dir / "manifest.json").exists():
        if _usable_bundle(settings.model_dir):
            say(f"model: {settings.model_dir} (exists; delete it to retrain)")
            return
        say(f"model: {settings.model_dir} is from another version of the engine; retraining")
    history = settings.data_dir / f"history_{options.days}d_{options.cards}.parquet"
    if not history.exists():
        say(f"generating {options.days} days of history for {options.cards:,} cards -> {history}")
        write_transactions(
            generate(GeneratorConfig(days=options.days, cards=options.cards, seed=7)), history
        )
    started = time.monotonic()
    manifest = train(
        history,
        settings.model_dir,
        # A shorter search than `fraud train`'s default: the demo is waiting on it.
        TrainConfig(label_delay_days=settings.label_delay_days, budget_s=DEMO_SEARCH_S),
        progress,
    )
    say(
        f"model: {manifest.model_version} trained in {time.monotonic() - started:.0f} s"
        f" -> {settings.model_dir} (report: {settings.model_dir / 'report.md'})"
    )


@contextmanager
def training_log(path: Path) -> Iterator[None]:
    """What a training logs, from INFO (tl2cgen's compiler lines, ensemble/codegen.py),
    into `path` (created on the first line) instead of between the progress bars; a
    warning still reaches the terminal too, as it would with no logging configured."""
    path.parent.mkdir(parents=True, exist_ok=True)
    to_file = logging.FileHandler(path, delay=True)
    to_file.setFormatter(TextLines())
    to_terminal = logging.StreamHandler()  # sys.stderr now: the bars' proxy, if any
    to_terminal.setLevel(logging.WARNING)
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.INFO)
    root.addHandler(to_file)
    root.addHandler(to_terminal)
    try:
        yield
    finally:
        root.removeHandler(to_terminal)
        root.removeHandler(to_file)
        root.setLevel(level)
        to_file.close()


def ensure_server(
    name: str,
    configured: str,
    reachable: Callable[[str], bool],
    local: type[RedisServer] | type[PostgresServer],
    stack: ExitStack,
    say: Say,
) -> str:
    """The configured server's URL if it answers, else one started here (stopped with the
    stack)."""
    if reachable(configured):
        say(f"{name}: {configured}")
        return configured
    server = local().start()
    stack.callback(server.cleanup)
    say(f"{name}: started a local server (pid {server.pid}) at {server.url}")
    return server.url


def ensure_kafka(settings: Settings, stack: ExitStack, say: Say) -> tuple[str, bool]:
    """The brokers' address, and whether the producer may be idempotent there (tansu
    refuses InitProducerId)."""
    configured = settings.kafka_bootstrap_servers
    if configured and tcp_reachable(configured.split(",")[0]):
        say(f"kafka: {configured}")
        return configured, settings.audit_idempotence
    broker = TansuBroker().start()
    stack.callback(broker.cleanup)
    say(f"kafka: started the tansu broker (pid {broker.pid}, memory storage) at {broker.bootstrap}")
    return broker.bootstrap, False


def run_demo(
    settings: Settings,
    options: DemoOptions,
    bars: Callable[[], AbstractContextManager[Progress]],
    console: Console,
) -> dict[str, object]:
    """`bars`: progress bars for a training, gone from the screen once it ends (open, they
    would stay pinned above the live line for the whole run)."""
    say = console.print
    # SIGTERM and SIGHUP (a closed terminal) stop the demo as Ctrl-C does: everything it
    # started runs in a session of its own and would otherwise outlive it.
    _on_signals_interrupt()
    run = DemoRun.new()
    trained = run.log(settings.data_dir, "train")
    with bars() as progress, training_log(trained):
        ensure_model(settings, options, progress, say)
    if trained.exists():
        say(f"model: the training's log is {trained} (kept after exit)")
    # Callbacks run last-registered first: register in the reverse of the stopping order.
    with ExitStack() as stack:
        redis_url = ensure_server(
            "redis", settings.redis_url, redis_reachable, RedisServer, stack, say
        )
        stack.callback(_forget_keys, redis_url, run.prefix(settings.redis_prefix))
        database_url = ensure_server(
            "postgres", settings.database_url, postgres_reachable, PostgresServer, stack, say
        )
        stack.callback(_drop_schema, database_url, run.schema)
        kafka, idempotent = ensure_kafka(settings, stack, say)
        stack.callback(_delete_topic, kafka, run.topic)
        alerts = _alert_sink(settings, stack)
        key, key_digest = new_key()
        port = options.port if options.port and port_free(options.port) else free_port()
        env = os.environ | {
            "FRAUD_API_KEYS": key_digest,
            # The demo's one key does everything (history, feedback, the stream, reload).
            "FRAUD_ADMIN_API_KEYS": key_digest,
            # One line per request would bury the demo's progress on the terminal.
            "FRAUD_ACCESS_LOG": os.environ.get("FRAUD_ACCESS_LOG", "false"),
            "FRAUD_REDIS_URL": redis_url,
            "FRAUD_REDIS_PREFIX": run.prefix(settings.redis_prefix),
            "FRAUD_MODEL_DIR": str(settings.model_dir),
            "FRAUD_KAFKA_BOOTSTRAP_SERVERS": kafka,
            "FRAUD_AUDIT_TOPIC": run.topic,
            "FRAUD_AUDIT_IDEMPOTENCE": str(idempotent).lower(),
            "FRAUD_CONSUMER_GROUP": run.tag,
            "FRAUD_DATABASE_URL": database_url,
            "FRAUD_DATABASE_SCHEMA": run.schema,
            # The build the line below names is the one the API serves.
            "FRAUD_CONSOLE_DIR": str(settings.console_dir),
            "FRAUD_SPOOL_PATH": str(settings.data_dir / f"{run.tag}.spool"),  # and .labels.spool
            # The traffic is a generated history, replayed at its own event times.
            "FRAUD_EVENT_TIME": "replay",
        }
        env |= alerts
        spool = settings.data_dir / f"{run.tag}.spool"
        stack.callback(_remove, spool, spool.with_suffix(".labels.spool"))
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        consumer = Child.start("consumer", run.log(settings.data_dir, "consume"), env, "consume")
        stack.callback(stop, consumer.process)
        server = Child.start(
            "API",
            run.log(settings.data_dir, "serve"),
            env,
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        )
        stack.callback(stop, server.process)
        stack.callback(_uninterruptible)  # runs first: a second Ctrl-C cannot cut the stop short
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_ready(base, server.process)
        except RuntimeError as exc:
            raise RuntimeError(server.failure(str(exc))) from exc
        files = write_run_files(
            settings.data_dir,
            run.tag,
            options.days,
            options.cards,
            settings.label_delay_days,
            past_weeks=options.past_weeks,
        )
        stack.callback(_remove, *files.paths)
        before = "past" if options.past_weeks else "traffic"
        say(f"backfilling the online state from the {files.history.name} weeks before the {before}")
        # Into the windows the API reads (its Redis, the run's prefix, replayed event
        # time: the env above), its transactions in the demo key's scope.
        served = settings.model_copy(
            update={
                "redis_url": redis_url,
                "redis_prefix": run.prefix(settings.redis_prefix),
                "event_time": "replay",
            }
        )
        filled = asyncio.run(backfill_into(served, files.history, key_id(key)))
        say(
            f"backfill: {filled.recorded:,} transactions and {filled.labels:,} fraud labels in "
            f"{filled.seconds:.0f} s (cards arrive with their past, as after `fraud backfill`)"
        )
        past = None
        if options.past_weeks:
            say(
                f"scoring the {options.past_weeks} weeks before the traffic through the API"
                " and posting their chargebacks as they were reported, for `fraud report`"
            )
            try:
                past = asyncio.run(
                    score_past(
                        served,
                        files.history,
                        files.past,
                        base,
                        key,
                        key_id(key),
                        files.past_start,
                        files.traffic_start,
                    )
                )
            except PastError as exc:
                for child in (server, consumer):
                    if child.process.poll() is not None:
                        code = child.process.returncode
                        raise RuntimeError(
                            child.failure(f"{exc}; the {child.name} exited (code {code})")
                        ) from exc
                raise
            say(past_line(past))
        # The live counts are the traffic's: what the past got is counted from here.
        answered_before = answered_by_api(base) or 0
        stored_before = asyncio.run(
            wait_stored(database_url, run.schema, answered_before, CATCH_UP_S)
        )
        _where_to_look(say, base, port, key, run, (server.log, consumer.log))
        if past is not None:
            say(report_line(past, run.schema, database_url, settings.database_url))
        say(console_line(settings.console_dir, base))
        say(f"replaying {files.traffic} at {options.rate:g} requests/s; Ctrl-C stops everything")
        report = ReplayReport()
        counts = Baseline(answered_before, stored_before)
        summary = asyncio.run(
            _serve_traffic(
                files.traffic,
                base,
                key,
                options,
                report,
                database_url,
                run,
                console,
                (server, consumer),
                counts,
            )
        )
        # Before it stops: calls by hand (the `try:` line) are answered and stored too.
        answered = counts.answered(answered_by_api(base))
        ours = report.statuses.get(200, 0)
        say("stopping: traffic stopped; the API is flushing its decisions to Kafka")
        stop(server.process)  # SIGTERM: the producer sends (or spools) what it holds
        expected = ours if answered is None else answered
        stored = asyncio.run(
            wait_stored(database_url, run.schema, expected + stored_before, CATCH_UP_S)
        )
        stored -= stored_before
        stop(consumer.process)
        say(f"replay: {summary}")
        say(closing(answered, ours, stored))
        return summary | {"answered": expected, "stored": stored}


@dataclass(frozen=True, slots=True)
class Baseline:
    """What the API had answered and PostgreSQL stored when the traffic started (the past's
    decisions): the live line and the last line count from there."""

    answered_before: int
    stored_before: int

    def answered(self, count: int | None) -> int | None:
        return None if count is None else count - self.answered_before

    def stored(self, count: int | None) -> int | None:
        return None if count is None else count - self.stored_before


def past_line(past: PastSummary) -> str:
    flagged = sum(n for tier, n in past.tiers.items() if tier != "low")
    return (
        f"past: {past.scored:,} transactions from {past.since:%a %d %b} to"
        f" {past.until - timedelta(days=1):%a %d %b} scored through the API in"
        f" {past.seconds:.0f} s ({flagged:,} flagged medium or above); {past.frauds:,} were"
        f" fraud, {past.chargebacks:,} charged back since (posted to /v1/feedback, dated"
        f" when reported), {past.not_yet:,} not reported yet"
    )


def report_line(past: PastSummary, schema: str, database_url: str, configured: str) -> str:
    """The `fraud report` on the past's weeks, run while the demo runs (its schema goes at
    exit). The database's address is given when the demo started its own server; a
    configured one is FRAUD_DATABASE_URL already, and may hold a password."""
    fraud = Path(sys.executable).with_name("fraud")
    if fraud.is_relative_to(Path.cwd()):
        fraud = fraud.relative_to(Path.cwd())
    url = "" if database_url == configured else f"FRAUD_DATABASE_URL={database_url} "
    return (
        f"report:   {url}FRAUD_DATABASE_SCHEMA={schema} {fraud} report"
        f" --since {past.since:%Y-%m-%d} --until {past.until:%Y-%m-%d} --out {REPORT_DIR}"
        f" --cost-per-review {REVIEW_COST:.2f}  (the past's weeks with their chargebacks;"
        " while the demo runs)"
    )


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _on_signals_interrupt() -> None:
    for sig in STOPPING_SIGNALS:
        signal.signal(sig, _interrupt)


def _uninterruptible() -> None:
    """From here on the demo only stops what it started; signals no longer interrupt it."""
    for sig in STOPPING_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


def _alert_sink(settings: Settings, stack: ExitStack) -> dict[str, str]:
    """Without a webhook of yours, the alerts go to a receiver of the demo's that checks
    their signatures: the console's alerts show real deliveries."""
    if settings.alert_webhook_url:
        return {}
    secret = secrets.token_hex(16)
    receiver = WebhookReceiver(secret).start()
    stack.callback(receiver.stop)
    return {"FRAUD_ALERT_WEBHOOK_URL": receiver.url, "FRAUD_ALERT_WEBHOOK_SECRET": secret}


def console_line(console_dir: Path, base: str) -> str:
    """Where the console is, or why it is not there (app/routes/console.py serves it)."""
    if (console_dir / "index.html").is_file():
        return f"console: {base}/dashboard/  (paste the API key above)"
    return f"console: not built ({console_dir}): run `make console`, or `make demo`"


def try_command(base: str, key: str, example: Path = EXAMPLE) -> str:
    """One scoring call, new each time it is run: the example stamped with a new
    transaction id and the current time, as the README's. The example as it is has one
    fixed id, refused (409) once any call has sent that id with other fields (the README's
    stamped copy, an edited one in Swagger)."""
    path = example.relative_to(Path.cwd()) if example.is_relative_to(Path.cwd()) else example
    return (
        r'sed -e "s/\"timestamp\": \"[^\"]*\"/\"timestamp\": \"$(date -u +%FT%TZ)\"/"'
        r' -e "s/\"transaction_id\": \"[^\"]*\"/\"transaction_id\": \"tx_$(date +%s%N)\"/"'
        f" {path} | curl -s -w '\\n' {base}/v1/score -H 'Authorization: Bearer {key}'"
        " -H 'Content-Type: application/json' -d @-"
    )


def _where_to_look(
    say: Say, base: str, port: int, key: str, run: DemoRun, logs: tuple[Path, Path]
) -> None:
    say("")
    say(
        f"API:      {base}  (Swagger: {base}/docs, metrics: {base}/metrics, readiness: {base}/readyz)"
    )
    say(f"API key:  {key}")
    say(f"try:      {escape(try_command(base, key))}")
    say(
        f"history:  curl -s '{base}/v1/transactions?limit=5&risk_tier=high' "
        f"-H 'Authorization: Bearer {key}'"
    )
    say(f"live:     ws://127.0.0.1:{port}/v1/stream?api_key={key}  (decisions + 1 s aggregates)")
    say(f"this run: schema {run.schema}, topic {run.topic} (removed at exit)")
    say(f"logs:     {logs[0]} (the API), {logs[1]} (the consumer); kept after exit")


async def _serve_traffic(
    traffic: Path,
    base: str,
    key: str,
    options: DemoOptions,
    report: ReplayReport,
    database_url: str,
    run: DemoRun,
    console: Console,
    children: tuple[Child, ...],
    counts: Baseline,
) -> dict[str, object]:
    """Replay until the file, --duration, Ctrl-C or the exit of a child ends it, with the
    live line; without --duration, keep serving (and showing the line) after the file until
    Ctrl-C. A child that exited stops the demo with the end of its log."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in STOPPING_SIGNALS:
        loop.add_signal_handler(sig, stopping.set)
    limit = None if options.duration is None else max(1, int(options.duration * options.rate))
    stored, answered = StoredCounter(database_url, run.schema), AnsweredCounter(base)
    status_done = asyncio.Event()

    async def count_answered() -> int | None:
        return counts.answered(await answered.count())

    async def count_stored() -> int | None:
        return counts.stored(await stored.count())

    status = asyncio.create_task(
        show_status(report, count_answered, count_stored, console, status_done)
    )
    watch = asyncio.create_task(_first_exit(children, stopping))
    try:
        summary = await replay(
            traffic, base, options.rate, key, limit=limit, report=report, stop=stopping
        )
        if options.duration is None and not stopping.is_set():
            await stopping.wait()  # the API keeps serving
        stopping.set()
        exited = await watch
        if exited is not None:
            code = exited.process.returncode
            raise RuntimeError(exited.failure(f"the {exited.name} exited (code {code})"))
        return summary
    finally:
        watch.cancel()
        status_done.set()
        await status
        await stored.close()
        await answered.close()
        for sig in STOPPING_SIGNALS:
            loop.remove_signal_handler(sig)  # back to SIG_DFL, not to ours
        _on_signals_interrupt()


async def _first_exit(children: tuple[Child, ...], stopping: asyncio.Event) -> Child | None:
    """The first child to exit while the demo runs, which stops it; None once it stops."""
    while not stopping.is_set():
        for child in children:
            if child.process.poll() is not None:
                stopping.set()
                return child
        with suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), 0.5)
    return None


def _forget_keys(url: str, prefix: str) -> None:
    with suppress(redis.RedisError):  # Redis gone by now: nothing left to delete
        delete_keys(url, prefix)


def _drop_schema(url: str, schema: str) -> None:
    async def drop() -> None:
        conn = await asyncpg.connect(url, timeout=5)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()

    with suppress(OSError, TimeoutError, asyncpg.PostgresError):
        asyncio.run(drop())


def _delete_topic(bootstrap: str, topic: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.errors import KafkaError

    async def delete() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
        try:
            await admin.start()
            await admin.delete_topics([topic])
        finally:
            await admin.close()

    with suppress(KafkaError, OSError, TimeoutError):
        asyncio.run(asyncio.wait_for(delete(), 10))


def _remove(*paths: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
