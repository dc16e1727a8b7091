"""Prometheus metrics of the HTTP adapter, and a reader of /metrics scrapes. The
instrumentator measures the routes other than /v1/score; the scoring core measures
/v1/score's answers (scoring/telemetry.py); refusals of every route are counted here."""

from __future__ import annotations

from fastapi import FastAPI
from prometheus_client import REGISTRY, Counter
from prometheus_client.parser import text_string_to_metric_families
from prometheus_fastapi_instrumentator import Instrumentator
from prometheus_fastapi_instrumentator import metrics as http_metrics
from prometheus_fastapi_instrumentator.middleware import PrometheusInstrumentatorMiddleware

from app.bypass import bypass
from app.drift_metrics import DRIFT
from app.queue_metrics import QUEUE

HTTP_LATENCY_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

REFUSED = Counter(
    "fraud_refused_total",
    "Requests refused (401, 403, 404, 405, 408, 409, 413, 415, 422, 429, 503), by status",
    ["status"],
)

RATE_LIMITED = Counter(
    "fraud_rate_limited_total",
    "Requests refused with 429: their API key was over FRAUD_RATE_LIMIT_PER_S, by the scope "
    "the route needs",
    ["scope"],
)

CASE_RESOLUTIONS = Counter(
    "fraud_case_resolutions_total", "Review cases resolved, by verdict", ["verdict"]
)
# The queue's gauges, from PostgreSQL at scrape time (app/queue_metrics.py), and the drift
# gauges, from the model's live window at scrape time (app/drift_metrics.py).
REGISTRY.register(QUEUE)
REGISTRY.register(DRIFT)


def instrument(app: FastAPI) -> None:
    """The instrumentator's metrics on every route but /v1/score, exposed at /metrics."""
    # Request counts and latency per handler, method and status; the default set also
    # measures request and response sizes in two more metrics, which cost every request
    # about as much as the rest of the middleware and tell nothing the body limit does not.
    # /v1/score is left to its own metrics (scoring/telemetry.py: answers by tier and
    # decision, latency, failures; REFUSED above: refusals). Its POSTs are answered ahead
    # of every middleware (app/direct.py); its other methods (405) skip this one too, which
    # would otherwise look up the route of each to decide (docs/performance.md); the
    # exclusion stays for any other spelling of the path.
    instrumentator = Instrumentator(
        excluded_handlers=["/metrics", "/healthz", "/readyz", "/v1/score"]
    )
    instrumentator.add(http_metrics.requests())
    instrumentator.add(http_metrics.latency(buckets=HTTP_LATENCY_BUCKETS))
    instrumentator.instrument(app).expose(app, include_in_schema=False)
    bypass(app, PrometheusInstrumentatorMiddleware, ["/v1/score"])


def scraped_total(exposition: str, sample: str) -> float:
    """The sum over every label set of one sample (e.g. "fraud_degraded_total") in a
    /metrics scrape: for benchmarks and tests reading the server from outside."""
    return sum(
        s.value
        for family in text_string_to_metric_families(exposition)
        for s in family.samples
        if s.name == sample
    )
