"""All settings in one object, read once from FRAUD_* environment variables."""

from __future__ import annotations

from functools import cached_property, lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.scopes import Scope, parse_digests, scopes_by_digest
from vocabulary import DECISIONS, TIERS

# Beside the package, not the working directory: `fraud serve` finds the build wherever it
# is started from a checkout.
CONSOLE_BUILD = Path(__file__).resolve().parents[1] / "frontend" / "dist"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FRAUD_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = Field(
        "development",
        description="`production` refuses unsafe defaults such as an empty API key list.",
    )
    model_dir: Path = Field(Path("models/current"), description="Model bundle directory to serve.")
    challenger_model_dir: Path | None = Field(
        None,
        description="A second bundle scored in shadow on the same features in the same request "
        "(the challenger): its score, tier and decision go with the audit event and the stored "
        "decision, never into the answer. Unset: no challenger. `fraud promote` swaps it with "
        "FRAUD_MODEL_DIR (docs/retraining.md).",
    )
    model_watch_s: float = Field(
        5.0,
        ge=0,
        description="How often each API process checks whether FRAUD_MODEL_DIR or "
        "FRAUD_CHALLENGER_MODEL_DIR holds another bundle (a `fraud promote`, a symlink "
        "moved, a bundle retrained in place) and reloads then; 0: only on POST "
        "/v1/admin/reload or SIGHUP.",
    )
    data_dir: Path = Field(Path("data"), description="Where the demo writes generated histories.")
    console_dir: Path = Field(
        CONSOLE_BUILD,
        description="The console's production build, served at /dashboard/ when it holds an "
        "index.html (`make console` writes it); default: the repository's frontend/dist.",
    )
    label_delay_days: float = Field(
        7.0,
        gt=0,
        description="Days after a transaction until its fraud label is known (chargeback delay).",
    )
    review_cost: float = Field(
        0.0,
        ge=0,
        description="What sending one decision to review costs, in the stored amounts' "
        "currency: the performance report's review cost (`fraud report`, "
        "GET /v1/reports/performance); 0: not set.",
    )
    report_max_rows: int = Field(
        1_000_000,
        ge=1,
        description="Most decisions GET /v1/reports/performance reads for one period "
        "(`fraud report` reads any number).",
    )
    report_timeout_s: float = Field(
        60.0,
        gt=0,
        description="Longest GET /v1/reports/performance may read from PostgreSQL (a "
        "statement timeout); past it, 504. One report is computed at a time per API process: "
        "another asked meanwhile gets 429 with Retry-After.",
    )
    redis_url: str = Field(
        "redis://127.0.0.1:6379/0",
        description="Online feature store: redis://host:port/db for one node, "
        "redis+cluster://host:port (rediss+cluster:// with TLS; any node) for a Redis Cluster.",
    )
    database_url: str = Field(
        "postgresql://postgres@127.0.0.1:5432/postgres", description="Decision history."
    )
    kafka_bootstrap_servers: str = Field(
        "",
        description="Audit log brokers, comma-separated; empty: no audit log (decisions are not published).",
    )
    audit_topic: str = Field("transactions.scored", description="Topic of the audit events.")
    labels_topic: str = Field(
        "transactions.labels", description="Topic of confirmed labels from POST /v1/feedback."
    )
    stream_client_buffer: int = Field(
        1_000,
        ge=1,
        description="Messages held for a slow /v1/stream client before its oldest are dropped.",
    )
    database_pool_size: int = Field(
        8, ge=1, description="PostgreSQL connections per API process (history and feedback)."
    )
    database_schema: str = Field(
        "fraud", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="PostgreSQL schema."
    )
    consumer_group: str = Field(
        "fraud-decisions", description="Kafka consumer group of `fraud consume`."
    )
    consumer_batch_size: int = Field(
        2_000, ge=1, description="Most messages written in one transaction."
    )
    consumer_batch_wait_ms: int = Field(200, ge=1, description="Longest wait to fill a batch.")
    consumer_metrics_port: int = Field(
        0,
        ge=0,
        le=65535,
        description="`fraud consume` serves its Prometheus metrics (messages written, lag) at "
        "/metrics on this port, bound to FRAUD_HOST; 0: not served.",
    )
    alert_tiers: str = Field(
        "high,critical", description="Risk tiers that raise alerts, comma-separated."
    )
    alert_dedup_s: float = Field(
        900.0,
        ge=0,
        description="One alert per card within this many seconds; later ones are suppressed.",
    )
    alert_rate_per_s: float = Field(10.0, gt=0, description="Most alerts sent per second per sink.")
    alert_max_attempts: int = Field(
        8, ge=1, description="Deliveries tried before an alert is `failed`."
    )
    alert_retry_base_s: float = Field(
        1.0,
        gt=0,
        description="First retry delay; doubles with each failed attempt (at most 300 s).",
    )
    alert_webhook_url: str = Field("", description="Generic webhook; empty: off.")
    alert_webhook_secret: str = Field(
        "", description="HMAC-SHA256 key signing each webhook body (X-Fraud-Signature)."
    )
    alert_slack_webhook_url: str = Field("", description="Slack incoming webhook; empty: off.")
    alert_pagerduty_routing_key: str = Field(
        "", description="PagerDuty Events API v2 integration key; empty: off."
    )
    alert_pagerduty_url: str = Field(
        "https://events.pagerduty.com/v2/enqueue", description="PagerDuty Events API v2 endpoint."
    )
    alert_smtp_host: str = Field("", description="SMTP server for alert email; empty: off.")
    alert_smtp_port: int = Field(25, ge=1, le=65535, description="SMTP port.")
    alert_smtp_starttls: bool = Field(
        False, description="Upgrade the SMTP connection with STARTTLS."
    )
    alert_smtp_username: str = Field("", description="SMTP login; empty: none.")
    alert_smtp_password: str = Field("", description="SMTP password.")
    alert_email_from: str = Field("fraud-engine@localhost", description="Sender of alert email.")
    alert_email_to: str = Field("", description="Recipients of alert email, comma-separated.")
    max_label_sources: int = Field(
        20,
        ge=1,
        le=1_000,
        description="Most sources (chargeback, analyst, ...) that may label one transaction: "
        "POST /v1/feedback from a new source beyond it gets 409 and stores nothing.",
    )
    case_on_decline: bool = Field(
        False,
        description="`fraud consume` also opens review cases for `decline` decisions (`review` "
        "decisions always open one).",
    )
    case_metrics_cache_s: float = Field(
        5.0,
        ge=0,
        description="How long a /metrics scrape reuses the review queue's size and age "
        "(fraud_cases_open, fraud_case_oldest_open_age_seconds) before querying PostgreSQL again.",
    )
    audit_partitions: int = Field(
        12, ge=1, description="Partitions when the topic is created at start-up."
    )
    audit_replication_factor: int = Field(
        1,
        ge=1,
        description="Replicas of each partition when the topic is created at start-up (2 or 3 on a cluster).",
    )
    audit_min_insync_replicas: int = Field(
        1,
        ge=1,
        description="The topic's min.insync.replicas when created: an acks=all write is taken only once this many replicas have it. At most the replication factor; a broker can be lost without refusing writes only while it is below it.",
    )
    audit_idempotence: bool = Field(
        True,
        description="aiokafka's idempotent producer (no duplicates from its own retries). The demo's tansu broker does not support it: the demo turns it off there.",
    )
    audit_queue_size: int = Field(
        10_000, ge=1, description="Events held in memory before spilling to the spool."
    )
    audit_linger_ms: int = Field(
        5, ge=0, description="aiokafka linger: how long a batch waits to fill."
    )
    audit_batch_bytes: int = Field(262_144, ge=1024, description="aiokafka batch size.")
    audit_send_linger_ms: float = Field(
        100.0,
        ge=0,
        description="How long decisions gather before they go to Kafka together, by the "
        "durable log's shipper or the in-memory producer (a backlog goes at once): a send "
        "costs the API about as much as five decisions' other audit work. It delays the "
        "history and the live stream, never an answer. 0: each as soon as it is logged.",
    )
    audit_retry_s: float = Field(
        2.0, gt=0, description="After a Kafka failure, spool for this long before retrying."
    )
    spool_path: Path = Field(
        Path("var/audit.spool"), description="Append-only spool for events Kafka cannot take."
    )
    spool_fsync_ms: float = Field(
        200.0, ge=0, description="Longest time between fsyncs of the spool."
    )
    audit_durability: Literal["memory", "log"] | None = Field(
        None,
        description="When an answered decision is safe. `log`: it is appended to this "
        "process's audit log under FRAUD_AUDIT_LOG_DIR and synced to disk (group commit) "
        "before the answer leaves, and shipped to Kafka from there, so a process killed "
        "at any moment (SIGKILL, a crash) loses nothing it answered; costs a sync per "
        "batch of answers (docs/performance.md). `memory`: queued in memory (and spooled "
        "when Kafka is away); what is queued when the process is killed is lost. Default: "
        "`log` in production, `memory` elsewhere.",
    )
    audit_log_dir: Path = Field(
        Path("var/audit-log"),
        description="The audit logs of `log` durability: each API process of the host "
        "takes a numbered slot of its own in it (all the workers of `fraud serve --workers "
        "N` share the setting) and ships what a dead process's slot still holds. Keep it "
        "on a disk that outlives the process (a volume that survives a container restart).",
    )
    audit_log_segment_bytes: int = Field(
        16 << 20,
        ge=65_536,
        description="Size at which the audit log starts a new segment file; segments "
        "whose every record Kafka has acknowledged are deleted.",
    )
    retry_wait_ms: float = Field(
        1_000.0,
        ge=0,
        description="How long a copy of a transaction (same scope, id and request) waits "
        "for the answer of a first copy being scored by another process before it is "
        "scored itself (the first is then presumed lost with its process); copies within "
        "one process always wait for the first's answer.",
    )
    api_keys: str = Field(
        "",
        description="Comma-separated SHA-256 hex digests of the scoring keys (scope `score`: "
        "POST /v1/score; `fraud keys create`).",
    )
    read_api_keys: str = Field(
        "",
        description="Digests of keys with the `read` scope: history, the stream, cases, lists "
        "and rules.",
    )
    review_api_keys: str = Field(
        "",
        description="Digests of keys with the `review` scope (feedback and case work; implies "
        "`read`).",
    )
    admin_api_keys: str = Field(
        "",
        description="Digests of keys with the `admin` scope (model reload, rules and lists; "
        "implies every scope). Outside production, when none of the read, review and admin "
        "lists is set, the API keys hold every scope (the demo's single key); in production "
        "never.",
    )
    rate_limit_per_s: float = Field(
        0.0,
        ge=0,
        description="Requests a second each API key may make, over every route and every API "
        "process together (shared in Redis, synchronised in the background: see "
        "app/rate_limit.py for the approximation); over it: 429 with Retry-After. 0: no limit.",
    )
    rate_limit_burst: float = Field(
        0.0,
        ge=0,
        description="Requests a key may make at once above the rate (the bucket's size); "
        "0: one second's worth of the rate.",
    )
    rate_limit_sync_ms: float = Field(
        100.0,
        gt=0,
        description="How often each process reports its keys' requests to the shared budget "
        "in Redis and reads what is left.",
    )
    list_sync_s: float = Field(
        2.0,
        gt=0,
        description="How often each API process compares the lists in Redis with PostgreSQL's "
        "record (a checksum) and rebuilds Redis's from it when they differ.",
    )
    list_min_ipv4_prefix: int = Field(
        8,
        ge=0,
        le=32,
        description="The widest IPv4 range a list entry may hold (its shortest prefix length; "
        "wider gets 422). /8 is the largest block one organisation holds: any provider's or "
        "network's range fits, 0.0.0.0/0 (every IPv4 client) does not.",
    )
    list_min_ipv6_prefix: int = Field(
        16,
        ge=0,
        le=128,
        description="The widest IPv6 range a list entry may hold (wider gets 422). Providers "
        "hold /19 to /48 (a /32 is the usual ISP allocation): /16 leaves room for the largest "
        "and refuses ::/0 and the global unicast /3.",
    )
    log_format: Literal["json", "text"] = Field(
        "json",
        description="`fraud serve`'s log lines on stderr: `json` (one object per line) or `text`.",
    )
    access_log: bool = Field(
        True,
        description="One access-log line per HTTP request (key id, method, path template, "
        "status, latency; never the key, the body or the client's address).",
    )
    host: str = Field(
        "127.0.0.1", description="`fraud serve` bind address (and `fraud consume`'s metrics')."
    )
    port: int = Field(8000, ge=1, le=65535, description="`fraud serve` port.")
    workers: int = Field(1, ge=1, description="`fraud serve` worker processes.")
    redis_prefix: str = Field(
        "fe", pattern=r"^[A-Za-z0-9_.-]+$", description="Prefix of every Redis key."
    )
    redis_pool_size: int = Field(
        64,
        ge=1,
        description="Redis connections per process (a blocking pool); on a cluster, per node.",
    )
    redis_budget_ms: float = Field(
        25.0, gt=0, description="Longest wait for the feature store before answering degraded."
    )
    redis_retry_after_ms: float = Field(
        500.0,
        ge=0,
        description="After a store failure, answer degraded without trying for this long.",
    )
    degraded_policy: Literal["score", "review", "decline"] = Field(
        "score",
        description="Without the feature store: `score` answers from request-only features (fail open); "
        "`review` or `decline` forces that decision (fail closed). `degraded` is true either way.",
    )
    decisions: str = Field(
        "low=approve,medium=review,high=review,critical=decline",
        description="Decision for each risk tier.",
    )
    drift: bool = Field(
        True,
        description="Watch drift: bin each computed batch like the bundle's training reference "
        "and export the PSI per watched feature and of the score at /metrics and "
        "GET /v1/model/drift (off: nothing is binned; a bundle without a reference has none).",
    )
    drift_window_s: float = Field(
        3_600.0,
        gt=0,
        le=7 * 86_400,
        description="The live drift window: the last this many seconds of traffic.",
    )
    drift_buckets: int = Field(
        12,
        ge=1,
        le=1_440,
        description="Sub-buckets of the drift window; the window slides by one bucket "
        "(FRAUD_DRIFT_WINDOW_S / FRAUD_DRIFT_BUCKETS) at a time.",
    )
    drift_min_rows: int = Field(
        500,
        ge=1,
        description="Fewest rows in the drift window for a PSI to be given (fewer: too "
        "noisy to read; the gauges are left out).",
    )
    rules_sync_ms: float = Field(
        250.0,
        gt=0,
        le=1_000,
        description="How often each API process polls PostgreSQL for a new version of the "
        "rules (a change applies everywhere within this, plus the time to compile).",
    )
    max_rules: int = Field(
        200, ge=1, le=10_000, description="Most rules the rule set may hold (PUT refuses more)."
    )
    max_rule_set_operations: int = Field(
        2_000,
        ge=1,
        le=1_000_000,
        description="Most operations (operators, comparisons, membership tests, and/or/not) "
        "the rules together may apply to each scoring batch, about 1.5 µs each: PUT refuses "
        "a rule past it (409), and a process leaves out, in priority order, stored rules past it.",
    )
    backtest_timeout_s: float = Field(
        60.0, gt=0, le=3_600, description="Longest a rule backtest may run before it is stopped."
    )
    backtest_max_rows: int = Field(
        1_000_000,
        ge=1,
        description="Most transactions a backtest's period may hold (and ten times that in "
        "the 31 days before it, read for the features' history).",
    )
    backtest_concurrency: int = Field(
        1,
        ge=1,
        le=16,
        description="Backtests running at once over every API process of the database "
        "(PostgreSQL advisory locks; others get 429).",
    )
    backtest_max_memory_mb: int = Field(
        1_024,
        ge=256,
        le=1_048_576,
        description="Address space of a backtest's child process (RLIMIT_AS), in MiB: a "
        "backtest needing more is stopped and answered 422 (about 2 KB a row read, look-back "
        "included, past a base of about 400 MiB).",
    )
    response_ttl_s: int = Field(
        7 * 86_400, ge=60, description="How long a retried transaction_id gets the same answer."
    )
    event_time: Literal["live", "replay"] = Field(
        "live",
        description="`live`: a request's `timestamp` must lie within FRAUD_MAX_CLOCK_SKEW_S "
        "ahead of the server's clock and FRAUD_MAX_EVENT_AGE_S behind it (else 422), and no "
        "window is trimmed past the server's clock. `replay`: any time is accepted and "
        "windows are trimmed at each event's own time, for replaying history through the API "
        "(tests, backfills); refused in production.",
    )
    max_clock_skew_s: float = Field(
        300.0,
        ge=0,
        description="Live event time: how far a request's timestamp may be ahead of the "
        "server's clock (clients' clocks drift).",
    )
    max_event_age_s: float = Field(
        86_400.0,
        gt=0,
        description="Live event time: how far a request's timestamp may be behind the "
        "server's clock (late arrivals).",
    )
    max_body_bytes: int = Field(16_384, ge=1024, description="Larger request bodies get 413.")
    header_timeout_s: float = Field(
        10.0,
        gt=0,
        description="A request's headers must arrive within this many seconds of its first byte (of the connection, for the first request); else 408 and the connection is closed.",
    )
    max_header_bytes: int = Field(
        16_384, ge=1024, description="Larger request headers get 431 and the connection closed."
    )
    body_timeout_s: float = Field(
        10.0,
        gt=0,
        description="A request's body must arrive within this many seconds of its headers; else 408.",
    )
    keep_alive_timeout_s: int = Field(
        5, ge=1, description="An idle kept-alive connection is closed after this many seconds."
    )
    shutdown_step_timeout_s: float = Field(
        10.0,
        gt=0,
        description="At shutdown, each client (stream, limiter, scoring, producers, database, Redis) gets this long to stop; one that does not is logged and left.",
    )
    limit_concurrency: int = Field(
        4_096,
        ge=1,
        description="Most open connections (and requests in flight) per API process; beyond it 503 and the connection closed.",
    )
    max_batch: int = Field(
        16,
        ge=1,
        description="Most requests in one Redis round trip. The compute stage scores several "
        "round trips together, so a small store batch costs little; a large one holds all its "
        "requests until its whole script has run.",
    )
    max_inflight_batches: int = Field(
        4,
        ge=1,
        description="Redis round trips in flight at once (each carries the requests waiting "
        "when it leaves), while the compute stage scores the batches already back.",
    )
    compute_linger_ms: float = Field(
        3.0,
        ge=0,
        description="Longest a request whose windows are read waits for the other batches' "
        "round trips that were out when it came back, so that one feature and model pass "
        "serves them all.",
    )
    answer_linger_ms: float = Field(
        50.0,
        ge=0,
        description="Longest an answer waits to ride on the next Redis round trip (whose "
        "script stores it for retries before reading) before it is stored on its own: a round "
        "trip of its own costs Redis a wake-up per decision at low rates. A copy sent to "
        "another process meanwhile waits for it (FRAUD_RETRY_WAIT_MS).",
    )
    opentelemetry: bool = Field(
        False,
        description=(
            "FastAPI's own OpenTelemetry traces, metrics and logs for each request, sent to the "
            "providers the process configures (e.g. under opentelemetry-instrument). Off, no "
            "request asks for them: checking for providers costs every request about 5%."
        ),
    )
    reasons: int = Field(
        3, ge=0, description="Top contributing features returned above the low tier."
    )

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        schemes = ("redis://", "rediss://", "unix://", "redis+cluster://", "rediss+cluster://")
        if not value.startswith(schemes):
            raise ValueError(
                "redis_url must start with redis://, rediss:// or unix:// (one node), or "
                "redis+cluster:// or rediss+cluster:// (a Redis Cluster)"
            )
        if value.startswith(schemes[3:]) and urlsplit(value).path.strip("/") not in ("", "0"):
            raise ValueError("a Redis Cluster has one database: redis+cluster://host:port[/0]")
        return value

    @field_validator("decisions")
    @classmethod
    def _decisions(cls, value: str) -> str:
        pairs = dict(p.split("=", 1) for p in value.split(",") if "=" in p)
        if set(pairs) != set(TIERS) or not set(pairs.values()) <= set(DECISIONS):
            raise ValueError(
                f"decisions must map {', '.join(TIERS)} to {', '.join(DECISIONS[:-1])} or "
                f"{DECISIONS[-1]}"
            )
        return value

    @field_validator("alert_tiers")
    @classmethod
    def _alert_tiers(cls, value: str) -> str:
        tiers = {t.strip() for t in value.split(",") if t.strip()}
        if not tiers <= set(TIERS):
            raise ValueError(f"alert_tiers lists tiers among {', '.join(TIERS)}")
        return value

    @model_validator(mode="after")
    def _signed_webhook(self) -> Settings:
        if self.alert_webhook_url and not self.alert_webhook_secret:
            raise ValueError("FRAUD_ALERT_WEBHOOK_SECRET is needed to sign webhook alerts")
        if self.alert_smtp_host and not self.alert_email_to.strip():
            raise ValueError("FRAUD_ALERT_EMAIL_TO is needed for email alerts")
        return self

    @model_validator(mode="after")
    def _replicas(self) -> Settings:
        if self.audit_min_insync_replicas > self.audit_replication_factor:
            raise ValueError(
                "FRAUD_AUDIT_MIN_INSYNC_REPLICAS cannot exceed FRAUD_AUDIT_REPLICATION_FACTOR:"
                " no write would ever be taken"
            )
        return self

    @property
    def durable_audit(self) -> bool:
        """Whether decisions go through the audit log before their answers (`log`)."""
        if self.audit_durability is None:
            return self.environment == "production"
        return self.audit_durability == "log"

    @property
    def rate_limit_bucket(self) -> float:
        return self.rate_limit_burst or max(1.0, self.rate_limit_per_s)

    @property
    def alert_tier_set(self) -> frozenset[str]:
        return frozenset(t.strip() for t in self.alert_tiers.split(",") if t.strip())

    @property
    def decision_map(self) -> dict[str, str]:
        return dict(p.split("=", 1) for p in self.decisions.split(",") if "=" in p)

    @cached_property  # read on every request
    def key_scopes(self) -> dict[str, frozenset[Scope]]:
        """Each accepted key digest's scopes."""
        lists: dict[Scope, frozenset[str]] = {
            "score": self.api_key_digests,
            "read": parse_digests(self.read_api_keys),
            "review": parse_digests(self.review_api_keys),
            "admin": parse_digests(self.admin_api_keys),
        }
        if self.environment != "production" and not (
            lists["read"] or lists["review"] or lists["admin"]
        ):
            lists["admin"] = self.api_key_digests  # one key for everything, as the demo runs
        return scopes_by_digest(lists)

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.environment == "production" and not self.api_key_digests:
            raise ValueError("FRAUD_API_KEYS must list at least one key digest in production")
        if self.environment == "production" and self.event_time == "replay":
            raise ValueError(
                "FRAUD_EVENT_TIME=replay trusts every request's timestamp (tests and backfills"
                " only): refused in production"
            )
        return self

    @cached_property  # read on every request
    def api_key_digests(self) -> frozenset[str]:
        return parse_digests(self.api_keys)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
