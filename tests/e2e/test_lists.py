"""Lists across real `fraud serve` processes on one Redis and PostgreSQL: a block posted to
one process declines the card on the other from its next request; deleting it, or its
expiry, gives the model's decision back, without a restart.

How a change gets there (docs/lists.md, docs/architecture.md "Lists in Redis"): the
writing process puts it in Redis before its database commits, and every process's window
script reads Redis's lists on each batch; no notification, nothing cached in a process.
The list sync (app/list_sync.py, a checksum poll every FRAUD_LIST_SYNC_S) only repairs
what Redis lost or missed. Here it runs at start and then not for an hour, so a change
can reach the other process only the documented way, and the test needs no clock: the
first request sent after the 201 (or the 204) must see it, however slow the machine."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
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
NO_REPAIR_S = "3600"  # FRAUD_LIST_SYNC_S: the sync's poll never runs during the test
REBUILT = b"lists in Redis rebuilt from PostgreSQL"  # app/list_sync.py's warning
FIRST_LIFETIME_S = 1.5  # of the entry that expires; doubled while a slow machine outlives it


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


def assert_model(answer: dict[str, Any]) -> None:
    assert answer["decision_source"] == "model", answer
    assert answer["decision"] == MODEL[answer["risk_tier"]]


@contextmanager
def two_processes(bundle_dir: Path, schema: str) -> Iterator[tuple[str, str, list[bytes]]]:
    """Two `fraud serve` on the same Redis prefix and database schema; their stderr in the
    list once they stop."""
    shared = {
        "FRAUD_REDIS_PREFIX": f"ls{uuid.uuid4().hex[:8]}",
        "FRAUD_ADMIN_API_KEYS": digest(ADMIN),
        "FRAUD_DATABASE_URL": DATABASE_URL,
        "FRAUD_DATABASE_SCHEMA": schema,
        "FRAUD_LIST_SYNC_S": NO_REPAIR_S,
    }
    logs: list[bytes] = []
    with (
        serving(bundle_dir, env=shared, stderr=logs) as (one, _),
        serving(bundle_dir, env=shared, stderr=logs) as (two, _),
    ):
        yield one, two, logs


def test_a_block_on_one_process_declines_on_the_other(bundle_dir: Path, schema: str) -> None:
    admin = {"Authorization": f"Bearer {ADMIN}"}
    block = {"entity": "card", "value": CARD, "action": "block", "reason": "e2e"}
    with two_processes(bundle_dir, schema) as (one, two, logs), httpx.Client(timeout=30) as http:
        scorer = Scorer(http, two)
        assert_model(scorer.score())

        made = http.post(f"{one}/v1/lists", json=block, headers=admin)
        assert made.status_code == 201, made.text
        blocked = scorer.score()  # the first request after the 201
        assert blocked["decision_source"] == f"list:{made.json()['id']}", blocked
        assert blocked["decision"] == "decline"

        assert http.delete(f"{one}/v1/lists/{made.json()['id']}", headers=admin).status_code == 204
        assert_model(scorer.score())  # the first request after the 204

        # An entry that expires stops applying on its own, on both processes.
        lifetime = FIRST_LIFETIME_S
        while True:
            expires = datetime.now(UTC) + timedelta(seconds=lifetime)
            short = http.post(
                f"{one}/v1/lists", json=block | {"expires_at": expires.isoformat()}, headers=admin
            )
            assert short.status_code == 201, short.text
            answer = scorer.score()
            if time.time() < expires.timestamp():
                break  # answered while the entry lived: it must have applied
            # A machine slower than the lifetime: it may have expired first; a longer one.
            lifetime *= 2
            assert lifetime < 100, "every short entry expired before one request came back"
        assert answer["decision_source"] == f"list:{short.json()['id']}", answer
        time.sleep(max(0.0, expires.timestamp() - time.time()) + 0.05)
        for base in (one, two):
            assert_model(Scorer(http, base).score())
    # Nothing came through the repair: neither process rebuilt Redis's lists after its
    # start (the first process's start-up check may build them once).
    assert b"".join(logs).count(REBUILT) <= 1, b"".join(logs).decode(errors="replace")
