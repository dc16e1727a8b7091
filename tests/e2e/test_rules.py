"""Rules across real `fraud serve` processes on one Redis and PostgreSQL: a rule written
through one process decides on the other once that process has polled the rule set's new
version (every FRAUD_RULES_SYNC_MS: within a second on a machine that keeps up); a shadow
rule is counted there and never changes a decision; deleting the rule gives the model's
decision back.

No clock: the test waits until the other process reports the version in service
(`fraud_rules_version`), then its very next request must be decided by it."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx

from app.auth import digest
from app.metrics import scraped_total
from tests.e2e.test_lists import CARD, MODEL, Scorer
from tests.e2e.test_serve import serving
from tests.pg import DATABASE_URL
from tests.waiting import wait_until

ADMIN = f"fk_e2e_rules_admin_{uuid.uuid4().hex}"


def in_service(http: httpx.Client, base: str, admin: dict[str, str]) -> None:
    """Until `base` serves the rule set's current version (as PostgreSQL holds it)."""
    version = http.get(f"{base}/v1/rules", headers=admin).json()["version"]

    def polled() -> bool:
        return scraped_total(http.get(f"{base}/metrics").text, "fraud_rules_version") >= version

    wait_until(polled, f"rule set version {version} in service on {base}", poll_s=0.1)


def test_a_rule_written_on_one_process_decides_on_the_other(bundle_dir: Path, schema: str) -> None:
    shared = {
        "FRAUD_REDIS_PREFIX": f"ru{uuid.uuid4().hex[:8]}",
        "FRAUD_ADMIN_API_KEYS": digest(ADMIN),
        "FRAUD_DATABASE_URL": DATABASE_URL,
        "FRAUD_DATABASE_SCHEMA": schema,
    }
    admin = {"Authorization": f"Bearer {ADMIN}"}
    condition = f'card_id == "{CARD}" and amount > 1'
    with (
        serving(bundle_dir, env=shared) as (one, _),
        serving(bundle_dir, env=shared) as (two, _),
        httpx.Client(timeout=10) as http,
    ):
        scorer = Scorer(http, two)
        assert scorer.score()["decision_source"] == "model"

        shadow = {"condition": condition, "action": "decline", "mode": "shadow", "priority": 1}
        assert http.put(f"{one}/v1/rules/watch", json=shadow, headers=admin).status_code == 201
        rule = {"condition": condition, "action": "review", "priority": 5}
        assert http.put(f"{one}/v1/rules/hold", json=rule, headers=admin).status_code == 201
        in_service(http, two, admin)
        held = scorer.score()
        assert held["decision_source"] == "rule:hold", held
        assert held["decision"] == "review"
        assert held["rules"] == [
            {"id": "watch", "action": "decline", "mode": "shadow"},
            {"id": "hold", "action": "review", "mode": "active"},
        ]
        metrics = http.get(f"{two}/metrics").text
        assert scraped_total(metrics, "fraud_rule_hits_total") >= 2

        assert http.delete(f"{one}/v1/rules/hold", headers=admin).status_code == 204
        in_service(http, two, admin)
        back = scorer.score()
        assert back["decision_source"] == "model", back
        assert back["decision"] == MODEL[back["risk_tier"]]  # the shadow rule changes nothing
        assert [r["id"] for r in back["rules"]] == ["watch"]
