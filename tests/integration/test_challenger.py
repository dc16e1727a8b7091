"""A challenger in shadow on the real Redis and a tansu broker: every audit event carries
what the challenger made of the same transaction, the answers are the champion's alone, and
GET /v1/model and the reload name both bundles."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from ensemble.manifest import Manifest
from localservers import TansuBroker
from tests.integration.conftest import API_KEY, make_settings
from tests.integration.test_audit import consumed
from tests.integration.test_score_api import body

TIERS = {"low", "medium", "high", "critical"}


@pytest.fixture
def shadowed(
    broker: TansuBroker,
    redis_url: str,
    prefix: str,
    bundle_dir: Path,
    challenger_dir: Path,
    tmp_path: Path,
) -> Iterator[TestClient]:
    settings = make_settings(
        redis_url,
        prefix,
        bundle_dir,
        challenger_model_dir=challenger_dir,
        kafka_bootstrap_servers=broker.bootstrap,
        audit_idempotence=False,  # tansu refuses InitProducerId
        spool_path=tmp_path / "audit.spool",
    )
    with TestClient(create_app(settings)) as c:
        c.headers["Authorization"] = f"Bearer {API_KEY}"
        yield c


def test_every_event_carries_the_challengers_result_and_no_answer_does(
    broker: TansuBroker, shadowed: TestClient, bundle_dir: Path, challenger_dir: Path
) -> None:
    champion = Manifest.read(bundle_dir).model_version
    challenger = Manifest.read(challenger_dir).model_version
    answers = [
        shadowed.post(
            "/v1/score",
            json=body(transaction_id=f"c{i}", card_id=f"card_{i % 5}", amount=20.0 + 97 * i),
        ).json()
        for i in range(40)
    ]
    assert all("challenger" not in a and a["model_version"] == champion for a in answers)
    events = {e["request"]["transaction_id"]: e for e in consumed(broker.bootstrap, 40)}  # type: ignore[index]
    assert set(events) == {a["transaction_id"] for a in answers}
    shadows = []
    for answer in answers:
        event = events[answer["transaction_id"]]
        assert event["decision"] == answer
        shadow = event["challenger"]
        assert isinstance(shadow, dict)
        assert shadow["model_version"] == challenger
        assert 0.0 <= shadow["score"] <= 1.0
        assert shadow["risk_tier"] in TIERS
        assert shadow["decision"] in {"approve", "review", "decline"}
        shadows.append(shadow["score"])
    # Its own model: scores of its own, not the champion's copied.
    assert shadows != [a["score"] for a in answers]

    info = shadowed.get("/v1/model").json()
    assert info["champion"]["model_version"] == champion
    assert info["challenger"]["model_version"] == challenger
    assert info["challenger_configured"] is True
    reloaded = shadowed.post("/v1/admin/reload").json()
    assert reloaded == {
        "model_version": champion,
        "previous": champion,
        "challenger": challenger,
        "challenger_error": "",
    }
