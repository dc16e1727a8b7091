"""Rules across real `fraud serve` processes on one Redis and PostgreSQL: a rule written
through one process decides on the other within a second; a shadow rule is counted there
and never changes a decision; deleting the rule gives the model's decision back."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx

from app.auth import digest
from app.metrics import scraped_total
from tests.e2e.test_lists import CARD, MODEL, Scorer, until
from tests.e2e.test_serve import serving
from tests.pg import DATABASE_URL

ADMIN = f"fk_e2e_rules_admin_{uuid.uuid4().hex}"


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
        held, took = until(scorer, "rule:hold", 1.0)
        assert took < 1.0, took
        assert held["decision"] == "review"
        assert held["rules"] == [
            {"id": "watch", "action": "decline", "mode": "shadow"},
            {"id": "hold", "action": "review", "mode": "active"},
        ]
        metrics = http.get(f"{two}/metrics").text
        assert scraped_total(metrics, "fraud_rule_hits_total") >= 2

        assert http.delete(f"{one}/v1/rules/hold", headers=admin).status_code == 204
        back, took = until(scorer, "model", 1.0)
        assert took < 1.0, took
        assert back["decision"] == MODEL[back["risk_tier"]]  # the shadow rule changes nothing
        assert [r["id"] for r in back["rules"]] == ["watch"]
