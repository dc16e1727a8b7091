"""Prometheus metrics of the scoring core: round trips, feature and model time, batch sizes,
answers by tier and decision, degraded answers, retries, failures, latency, reloads."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

FAST = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25)

FEATURE_STORE_SECONDS = Histogram(
    "fraud_feature_store_seconds",
    "Redis round trip for a batch (read windows, record transactions)",
    buckets=FAST,
)
FEATURES_SECONDS = Histogram(
    "fraud_features_seconds", "Feature computation for a batch", buckets=FAST
)
INFERENCE_SECONDS = Histogram(
    "fraud_inference_seconds", "Compiled ensemble scoring for a batch", buckets=FAST
)
RULES_SECONDS = Histogram(
    "fraud_rules_seconds", "Rule evaluation for a batch (vectorised)", buckets=FAST
)
BATCH_SIZE = Histogram(
    "fraud_batch_size", "Requests scored together", buckets=(1, 2, 4, 8, 16, 32, 64, 128)
)
SCORE = Histogram("fraud_score", "Ensemble scores", buckets=tuple(i / 20 for i in range(1, 21)))
DECISIONS = Counter(
    "fraud_decisions_total", "Answers by tier and decision", ["risk_tier", "decision"]
)
DECISION_SOURCES = Counter(
    "fraud_decision_sources_total",
    "Answers by what decided them",
    ["source"],  # model|rule|list
)
LIST_HITS = Counter(
    "fraud_list_hits_total", "List entries that matched a transaction", ["entity", "action"]
)
RULE_HITS = Counter("fraud_rule_hits_total", "Rules that matched a transaction", ["rule", "mode"])
DEGRADED = Counter("fraud_degraded_total", "Answers without the feature store, by cause", ["cause"])
RETRIES = Counter(
    "fraud_retried_transactions_total",
    "Repeated transaction ids given the first answer (stored, or of a copy in flight)",
)
FAILED = Counter("fraud_score_failures_total", "Scoring requests that failed with an error")
MODEL_RELOADS = Counter(
    "fraud_model_reloads_total",
    "Model bundle reloads",
    ["outcome"],  # loaded|failed|challenger_failed
)
CHALLENGER_LOADED = Gauge(
    "fraud_challenger_loaded",
    "1 while a challenger bundle is scored in shadow, else 0",
    multiprocess_mode="livemin",
)
CHALLENGER_DECISIONS = Counter(
    "fraud_challenger_decisions_total",
    "What the challenger in shadow would have answered, by its tier and decision",
    ["risk_tier", "decision"],
)
# The readiness probe's model check as a metric (alerts: a process serving without one);
# with several workers the lowest of the live ones.
MODEL_READY = Gauge(
    "fraud_model_ready",
    "1 while a compiled and checked model bundle is in service, else 0",
    multiprocess_mode="livemin",
)
SCORE_LATENCY = Histogram(
    "fraud_score_latency_seconds",
    "From receiving a /v1/score body to its answer, inside the server",
    buckets=(
        0.0005,
        0.001,
        0.002,
        0.003,
        0.005,
        0.0075,
        0.01,
        0.015,
        0.02,
        0.03,
        0.05,
        0.1,
        0.2,
        0.5,
        1.0,
    ),
)
