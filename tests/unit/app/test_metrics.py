"""Reading a /metrics scrape from outside (benchmarks, end-to-end tests)."""

from __future__ import annotations

from app.metrics import scraped_total

SCRAPE = """\
# HELP fraud_degraded_total Answers without the feature store, by cause
# TYPE fraud_degraded_total counter
fraud_degraded_total{cause="timeout"} 3.0
fraud_degraded_total{cause="store_recently_failed"} 12.0
# HELP fraud_degraded_created Answers without the feature store, by cause
# TYPE fraud_degraded_created gauge
fraud_degraded_created{cause="timeout"} 1.79e+09
# HELP fraud_batch_size Requests scored together
# TYPE fraud_batch_size histogram
fraud_batch_size_bucket{le="1.0"} 4.0
fraud_batch_size_bucket{le="+Inf"} 9.0
fraud_batch_size_count 9.0
fraud_batch_size_sum 30.0
"""


def test_a_sample_is_summed_over_its_label_sets_and_nothing_else() -> None:
    assert scraped_total(SCRAPE, "fraud_degraded_total") == 15.0
    assert scraped_total(SCRAPE, "fraud_batch_size_count") == 9.0
    assert scraped_total(SCRAPE, "fraud_decisions_total") == 0.0
