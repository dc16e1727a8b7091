"""Prometheus metrics of the HTTP adapter, and a reader of /metrics scrapes. The
instrumentator measures the routes other than /v1/score; the scoring core measures
/v1/score's answers (scoring/telemetry.py); refusals of every route are counted here."""

from __future__ import annotations

from prometheus_client import Counter
from prometheus_client.parser import text_string_to_metric_families

REFUSED = Counter(
    "fraud_refused_total", "Requests refused (401, 404, 409, 413, 422, 503), by status", ["status"]
)


def scraped_total(exposition: str, sample: str) -> float:
    """The sum over every label set of one sample (e.g. "fraud_degraded_total") in a
    /metrics scrape: for benchmarks and tests reading the server from outside."""
    return sum(
        s.value
        for family in text_string_to_metric_families(exposition)
        for s in family.samples
        if s.name == sample
    )
