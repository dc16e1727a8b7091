"""Per-key rate limits on real Redis: two API instances sharing one Redis admit, together,
about the configured rate; refusals are 429 with Retry-After, counted in /metrics; a zero
rate admits everything."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.auth import key_id
from app.main import create_app
from app.metrics import scraped_total
from tests.integration.conftest import API_KEY, make_settings
from tests.integration.test_score_api import body

RATE, BURST, SECONDS = 20.0, 20.0, 3.0


def test_two_instances_share_one_budget(
    redis_url: str, prefix: str, bundle_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "fraud.security")
    settings = make_settings(
        redis_url, prefix, bundle_dir, rate_limit_per_s=RATE, rate_limit_burst=BURST
    )
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with (
        TestClient(create_app(settings), headers=headers) as one,
        TestClient(create_app(settings), headers=headers) as two,
    ):
        before = scraped_total(one.get("/metrics").text, "fraud_rate_limited_total")
        statuses: list[int] = []
        refusal = None
        started = time.monotonic()
        n = 0
        while time.monotonic() - started < SECONDS:
            n += 1
            r = (one, two)[n % 2].post("/v1/score", json=body(transaction_id=f"rl_{n}"))
            statuses.append(r.status_code)
            if r.status_code == 429:
                refusal = r
        elapsed = time.monotonic() - started
        after = scraped_total(one.get("/metrics").text, "fraud_rate_limited_total")

    print(f"admitted {statuses.count(200)} of {len(statuses)} in {elapsed:.2f} s")
    assert set(statuses) == {200, 429}
    admitted = statuses.count(200)
    expected = BURST + RATE * elapsed
    assert 0.75 * expected <= admitted <= 1.3 * expected, (admitted, expected, len(statuses))
    assert refusal is not None
    assert refusal.json()["error"] == "rate_limited"
    assert "over its limit of 20 requests a second" in refusal.json()["detail"]
    assert 1 <= int(refusal.headers["Retry-After"]) <= 2
    assert after - before == statuses.count(429)
    refused = [r for r in caplog.records if getattr(r, "status", None) == 429]
    assert len(refused) == statuses.count(429)
    assert {r.key_id for r in refused} == {key_id(API_KEY)}  # type: ignore[attr-defined]
    assert {r.path for r in refused} == {"/v1/score"}  # type: ignore[attr-defined]


def test_a_zero_rate_admits_everything(redis_url: str, prefix: str, bundle_dir: Path) -> None:
    settings = make_settings(redis_url, prefix, bundle_dir, rate_limit_per_s=0)
    with TestClient(create_app(settings)) as c:
        c.headers["Authorization"] = f"Bearer {API_KEY}"
        codes = {
            c.post("/v1/score", json=body(transaction_id=f"z_{i}")).status_code for i in range(300)
        }
    assert codes == {200}
