"""Drift, live: a real `fraud serve` scores traffic like its training data, then traffic
whose amounts are ten times larger; its /metrics show the amount features' PSI under 0.2,
then crossing it, and the alert rule fed the scraped series fires in promtool. A reload
starts an empty window beside the new reference."""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

import httpx
import orjson
import pandas as pd
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from cli.traffic import request_bodies
from ensemble.manifest import Manifest
from features.dataset import read_transactions
from tests.e2e.test_serve import serving
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
PROMTOOL = ROOT / "var/bin/promtool"
ALERTS = ROOT / "deploy/prometheus/alerts.yml"
AMOUNT_FEATURES = ("amount", "amount_log")  # request-only: a cold Redis does not move them
HEADERS = {"Authorization": "Bearer k1", "Content-Type": "application/json"}
CALM_ROWS = 600
SHIFTED_ROWS = 1_500  # the most sent before the PSI must have crossed
ROUND = 100  # shifted rows between two scrapes


def validation_rows(history: Path, manifest: Manifest, rows: int) -> list[dict[str, Any]]:
    """`rows` transactions drawn from the validation period (the reference's rows), in
    event-time order, as request bodies: a sample over its days, not its first hours, so
    the hours of the day mix as they did in the reference."""
    frame = read_transactions(history)
    ts = pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601")
    start, end = (pd.Timestamp(b) for b in manifest.split["boundaries"][1:3])
    period = frame[(ts >= start) & (ts < end)].assign(_ts=ts)
    return list(request_bodies(period.sample(n=rows, random_state=7).sort_values("_ts")))


async def send(base: str, bodies: list[dict[str, Any]]) -> None:
    gate = asyncio.Semaphore(16)
    async with httpx.AsyncClient(timeout=30) as client:

        async def one(body: dict[str, Any]) -> None:
            async with gate:
                answer = await client.post(
                    f"{base}/v1/score", content=orjson.dumps(body), headers=HEADERS
                )
            assert answer.status_code == 200, answer.text
            assert not answer.json()["degraded"]

        await asyncio.gather(*(one(b) for b in bodies))


def drift_gauges(base: str) -> dict[str, float]:
    """The PSI gauges of one scrape: {feature: psi}, the score's as "score"."""
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(httpx.get(f"{base}/metrics").text):
        for s in family.samples:
            if s.name == "fraud_feature_drift_psi":
                found[s.labels["feature"]] = s.value
            elif s.name == "fraud_score_drift_psi":
                found["score"] = s.value
    return found


def shifted(body: dict[str, Any]) -> dict[str, Any]:
    return body | {
        "transaction_id": f"{body['transaction_id']}_x10",
        "amount": round(min(body["amount"] * 10, 1_000_000.0), 2),
    }


def alert_test(scrapes: list[dict[str, float]], hold_minutes: int) -> dict[str, Any]:
    """A promtool test of the alert rules on the scraped PSI series, one scrape a minute,
    the last held for `hold_minutes`: the amount features that ended at 0.2 or over raise
    FraudFeatureDrift, with their last value in the summary; none fires on the calm phase's
    values held as long."""
    last = scrapes[-1]
    series = [
        {
            "series": f'fraud_feature_drift_psi{{instance="api:8000",feature="{f}"}}',
            "values": " ".join(repr(s[f]) for s in scrapes) + f" {last[f]!r}x{hold_minutes}",
        }
        for f in AMOUNT_FEATURES
    ]
    expected = [
        {
            "exp_labels": {"severity": "ticket", "feature": f},
            "exp_annotations": {
                "summary": f"feature {f} has drifted from the model's training data "
                f"(PSI {last[f]:.2f}): see docs/drift.md"
            },
        }
        for f in AMOUNT_FEATURES
        if last[f] >= 0.2
    ]
    calm = [
        {
            "series": f'fraud_feature_drift_psi{{instance="api:8000",feature="{f}"}}',
            "values": f"{scrapes[0][f]!r}x{len(scrapes) + hold_minutes}",
        }
        for f in AMOUNT_FEATURES
    ]
    at = f"{len(scrapes) + hold_minutes - 1}m"
    return {
        "rule_files": [str(ALERTS)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "alert_rule_test": [
                    {"eval_time": at, "alertname": "FraudFeatureDrift", "exp_alerts": expected}
                ],
            },
            {
                "interval": "1m",
                "input_series": calm,
                "alert_rule_test": [
                    {"eval_time": at, "alertname": "FraudFeatureDrift", "exp_alerts": []}
                ],
            },
        ],
    }


@pytest.mark.timeout(180)
def test_shifted_traffic_crosses_the_drift_threshold_and_the_alert_fires(
    bundle_dir: Path, history_file: Path, tmp_path: Path
) -> None:
    if not PROMTOOL.exists():
        pytest.fail(f"{PROMTOOL} is missing: `make tools` unpacks it (Debian's prometheus)")
    model = tmp_path / "model"
    shutil.copytree(bundle_dir, model)
    manifest = Manifest.read(model)
    watched = {f["name"] for f in manifest.drift["features"]}
    assert set(AMOUNT_FEATURES) <= watched, watched
    bodies = validation_rows(history_file, manifest, CALM_ROWS + SHIFTED_ROWS)
    calm, later = bodies[:CALM_ROWS], [shifted(b) for b in bodies[CALM_ROWS:]]

    env = {"FRAUD_DRIFT_MIN_ROWS": "300"}
    with serving(model, event_time="replay", env=env) as (base, process):
        assert drift_gauges(base) == {}  # no rows yet: no PSI, never a fake 0
        asyncio.run(send(base, calm))
        scrapes = [drift_gauges(base)]
        assert watched | {"score"} == set(scrapes[0])
        for f in AMOUNT_FEATURES:
            assert scrapes[0][f] < 0.2, scrapes[0]  # like the reference

        # The shift, a round at a time, until the PSI crosses (bounded by the rows sent).
        for start in range(0, len(later), ROUND):
            asyncio.run(send(base, later[start : start + ROUND]))
            scrapes.append(drift_gauges(base))
            if all(scrapes[-1][f] >= 0.2 for f in AMOUNT_FEATURES):
                break
        else:
            pytest.fail(f"the amounts' PSI never crossed 0.2: {scrapes[-1]}")

        report = httpx.get(f"{base}/v1/model/drift", headers=HEADERS).json()
        assert report["available"] is True
        assert report["rows"] == CALM_ROWS + ROUND * (len(scrapes) - 1)
        top = [f["feature"] for f in report["features"]]
        psi = {f["feature"]: f["psi"] for f in report["features"]}
        assert psi == pytest.approx(
            {f: v for f, v in scrapes[-1].items() if f != "score"}, abs=1e-5
        )
        assert report["features"][0]["psi"] >= 0.2
        assert set(AMOUNT_FEATURES) <= {f for f in top if psi[f] >= 0.2}
        assert httpx.get(f"{base}/v1/model/drift").status_code == 401

        # A reload brings the bundle's reference back with an empty window.
        process.send_signal(signal.SIGHUP)
        wait_until(
            lambda: httpx.get(f"{base}/v1/model/drift", headers=HEADERS).json()["rows"] == 0,
            "an empty drift window after the reload",
        )

    rules = tmp_path / "drift_test.yml"
    rules.write_text(yaml.safe_dump(alert_test(scrapes, hold_minutes=20), sort_keys=False))
    tested = subprocess.run(
        [str(PROMTOOL), "test", "rules", str(rules)], capture_output=True, text=True, check=False
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr + rules.read_text()
