"""The Grafana dashboard and the Prometheus alert rules read only metrics the code
exports; the rules fire when they should (promtool test rules)."""

from __future__ import annotations

import json
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.deploy.contract import PROMETHEUS_SERIES, ROOT, exported_metrics, promql_metrics

DASHBOARD = ROOT / "deploy/grafana/dashboards/fraud-engine.json"
ALERTS = ROOT / "deploy/prometheus/alerts.yml"
PROMTOOL = ROOT / "var/bin/promtool"


@cache
def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def panel_queries() -> list[tuple[str, str]]:
    return [(p["title"], t["expr"]) for p in dashboard()["panels"] for t in p["targets"]]


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_every_panel_queries_metrics_the_code_exports() -> None:
    known = exported_metrics() | PROMETHEUS_SERIES
    queries = panel_queries()
    assert queries
    for title, expr in queries:
        names = promql_metrics(expr)
        assert names, (title, expr)
        assert names <= known, (title, names - known)


def test_the_dashboard_shows_what_operations_watch() -> None:
    """Throughput, latency percentiles, tiers and decisions, degraded answers, rule hits,
    consumer lag, consumer rows/s, open cases."""
    read = {name for _, expr in panel_queries() for name in promql_metrics(expr)}
    assert {
        "fraud_decisions_total",
        "fraud_score_latency_seconds_bucket",
        "fraud_degraded_total",
        "fraud_rule_hits_total",
        "fraud_consumer_lag_messages",
        "fraud_consumer_messages_total",
        "fraud_cases_open",
        "fraud_feature_drift_psi",
        "fraud_score_drift_psi",
        "fraud_feature_missing_share",
    } <= read
    exprs = " ".join(expr for _, expr in panel_queries())
    for quantile in ("0.5", "0.95", "0.99"):
        assert f"histogram_quantile({quantile}, " in exprs


def test_panels_use_the_provisioned_datasource_and_do_not_overlap() -> None:
    (source,) = yaml.safe_load(
        (ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text()
    )["datasources"]
    cells: set[tuple[int, int]] = set()
    ids = set()
    for panel in dashboard()["panels"]:
        assert panel["datasource"]["uid"] == source["uid"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == source["uid"], panel["title"]
        g = panel["gridPos"]
        mine = {
            (x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])
        }
        assert not mine & cells, panel["title"]
        assert g["x"] + g["w"] <= 24
        cells |= mine
        ids.add(panel["id"])
    assert len(ids) == len(dashboard()["panels"])
    assert dashboard()["uid"]


def test_alert_rules_read_metrics_the_code_exports() -> None:
    known = exported_metrics() | PROMETHEUS_SERIES
    for rule in alert_rules():
        names = promql_metrics(rule["expr"])
        assert names, rule["alert"]
        assert names <= known, (rule["alert"], names - known)


def test_the_alerts_cover_what_the_service_promises() -> None:
    read = {rule["alert"]: promql_metrics(rule["expr"]) for rule in alert_rules()}
    assert read["FraudScoreLatencyOverBudget"] == {"fraud_score_latency_seconds_bucket"}
    assert "fraud_degraded_total" in read["FraudDegradedAnswers"]
    assert read["FraudConsumerLag"] == {"fraud_consumer_lag_messages"}
    assert read["FraudAuditSpoolGrowing"] == {"fraud_audit_events_total"}
    assert read["FraudModelNotReady"] == {"fraud_model_ready"}
    assert read["FraudAuditLogBehind"] == {"fraud_audit_events_total"}
    assert read["FraudAuditLogWriteFailed"] == {"fraud_audit_log_syncs_total"}
    assert read["FraudFeatureDrift"] == {"fraud_feature_drift_psi"}
    assert read["FraudScoreDrift"] == {"fraud_score_drift_psi"}
    for rule in alert_rules():
        assert rule["labels"]["severity"] in {"page", "ticket"}
        assert rule["annotations"]["summary"]


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    if not PROMTOOL.exists():
        pytest.fail(f"{PROMTOOL} is missing: `make tools` unpacks it (Debian's prometheus)")
    return subprocess.run(
        [str(PROMTOOL), *args], capture_output=True, text=True, check=False, cwd=ROOT
    )


def test_promtool_checks_the_rules_and_their_unit_tests_pass() -> None:
    checked = promtool("check", "rules", str(ALERTS))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = promtool("test", "rules", str(ALERTS.with_name("alerts_test.yml")))
    assert tested.returncode == 0, tested.stdout + tested.stderr
    fired = yaml.safe_load(ALERTS.with_name("alerts_test.yml").read_text())["tests"]
    raised = {
        case["alertname"] for t in fired for case in t["alert_rule_test"] if case["exp_alerts"]
    }
    assert raised == {rule["alert"] for rule in alert_rules()}, "every alert is seen firing"


def test_promtool_accepts_the_prometheus_configuration(tmp_path: Path) -> None:
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    config["rule_files"] = [str(ALERTS)]  # where compose mounts it, here
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    checked = promtool("check", "config", str(tmp_path / "prometheus.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_rule_reading_an_unknown_metric_is_caught() -> None:
    assert promql_metrics("sum(rate(fraud_decision_total[5m]))") - exported_metrics() == {
        "fraud_decision_total"
    }
