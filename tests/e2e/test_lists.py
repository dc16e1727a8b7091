"""Lists across real `fraud serve` processes on one Redis and PostgreSQL: a block posted to
one process declines the card on the other within a second; deleting it, or its expiry,
gives the model's decision back, without a restart."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from app.auth import digest
from tests.e2e.test_serve import live, serving
from tests.pg import DATABASE_URL

ADMIN = f"fk_e2e_lists_admin_{uuid.uuid4().hex}"
CARD = f"card_e2e_{uuid.uuid4().hex[:8]}"
# The default FRAUD_DECISIONS: what the model's tier alone decides.
MODEL = {"low": "approve", "medium": "review", "high": "review", "critical": "decline"}


class Scorer:
    def __init__(self, http: httpx.Client, base: str) -> None:
        self.http, self.base, self.n = http, base, 0

    def score(self) -> dict[str, Any]:
        self.n += 1
        tx = live(card_id=CARD, transaction_id=f"le_{uuid.uuid4().hex[:12]}")
        r = self.http.post(f"{self.base}/v1/score", json=tx, headers={"Authorization": "Bearer k1"})
        assert r.status_code == 200, r.text
        answer: dict[str, Any] = r.json()
        return answer


def until(scorer: Scorer, source: str, within_s: float) -> tuple[dict[str, Any], float]:
    """Score until the decision's source is `source`; the answer and how long it took."""
    started = time.monotonic()
    while True:
        answer = scorer.score()
        elapsed = time.monotonic() - started
        if answer.get("decision_source") == source or elapsed > within_s:
            return answer, elapsed
        time.sleep(0.02)


def test_a_block_on_one_process_declines_on_the_other(bundle_dir: Path, schema: str) -> None:
    shared = {
        "FRAUD_REDIS_PREFIX": f"ls{uuid.uuid4().hex[:8]}",
        "FRAUD_ADMIN_API_KEYS": digest(ADMIN),
        "FRAUD_DATABASE_URL": DATABASE_URL,
        "FRAUD_DATABASE_SCHEMA": schema,
    }
    admin = {"Authorization": f"Bearer {ADMIN}"}
    with (
        serving(bundle_dir, env=shared) as (one, _),
        serving(bundle_dir, env=shared) as (two, _),
        httpx.Client(timeout=10) as http,
    ):
        scorer = Scorer(http, two)
        before = scorer.score()
        assert before["decision_source"] == "model", before
        assert before["decision"] == MODEL[before["risk_tier"]]

        block = {"entity": "card", "value": CARD, "action": "block", "reason": "e2e"}
        made = http.post(f"{one}/v1/lists", json=block, headers=admin)
        assert made.status_code == 201, made.text
        source = f"list:{made.json()['id']}"
        blocked, took = until(scorer, source, 1.0)
        assert blocked["decision_source"] == source, blocked
        assert blocked["decision"] == "decline"
        assert took < 1.0

        assert http.delete(f"{one}/v1/lists/{made.json()['id']}", headers=admin).status_code == 204
        after, took = until(scorer, "model", 1.0)
        assert after["decision_source"] == "model", after
        assert after["decision"] == MODEL[after["risk_tier"]]
        assert took < 1.0

        # An entry that expires stops applying on its own, on both processes.
        soon = (datetime.now(UTC) + timedelta(seconds=1.5)).isoformat()
        short = http.post(f"{one}/v1/lists", json=block | {"expires_at": soon}, headers=admin)
        assert short.status_code == 201, short.text
        source = f"list:{short.json()['id']}"
        assert until(scorer, source, 1.0)[0]["decision_source"] == source
        time.sleep(max(0.0, datetime.fromisoformat(soon).timestamp() - time.time()) + 0.05)
        for base in (one, two):
            answer = Scorer(http, base).score()
            assert answer["decision_source"] == "model", answer
            assert answer["decision"] == MODEL[answer["risk_tier"]]
