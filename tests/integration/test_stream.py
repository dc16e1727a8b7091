"""WS /v1/stream: every decision and one-second aggregates, from the audit topic."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from tests.integration.conftest import API_KEY
from tests.integration.test_score_api import body


@pytest.mark.timeout(90)
def test_dashboards_get_every_decision_and_per_second_aggregates(
    audited_client: TestClient,
) -> None:
    with audited_client.websocket_connect(f"/v1/stream?api_key={API_KEY}") as ws:
        assert ws.receive_json()["type"] == "hello"
        sent = {f"s{i}" for i in range(25)}
        answers = {}
        for tx in sorted(sent):
            r = audited_client.post("/v1/score", json=body(transaction_id=tx))
            assert r.status_code == 200
            answers[tx] = r.json()
        seen: set[str] = set()
        counted = 0
        by_decision: dict[str, float] = {"decline": 0.0, "review": 0.0}
        aggregated: dict[str, float] = {"decline": 0.0, "review": 0.0}
        while not (seen >= sent and counted >= len(sent)):
            message: dict[str, Any] = ws.receive_json()
            if message["type"] == "decision":
                seen.add(message["transaction_id"])
                assert message["risk_tier"] in {"low", "medium", "high", "critical"}
                answer = answers[message["transaction_id"]]
                for field in ("decision_source", "rules", "model_version", "decision"):
                    assert message[field] == answer[field], field
                if message["decision"] in by_decision:
                    by_decision[message["decision"]] += message["amount"]
            elif message["type"] == "aggregate":
                counted += message["count"]
                assert sum(message["tiers"].values()) == message["count"]
                if message["count"]:
                    assert message["latency_ms"]["p99"] >= message["latency_ms"]["p50"] > 0
                aggregated["decline"] += sum(message["declined_amount"].values())
                aggregated["review"] += sum(message["review_amount"].values())
        assert aggregated == pytest.approx(by_decision)


def test_the_stream_needs_an_api_key(audited_client: TestClient) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        audited_client.websocket_connect(
            "/v1/stream?api_key=wrong", headers={"Authorization": ""}
        ) as ws,
    ):
        ws.receive_json()
    assert closed.value.code == 1008


def test_without_an_audit_topic_the_stream_says_why(client: TestClient) -> None:
    with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect("/v1/stream") as ws:
        ws.receive_json()
    assert closed.value.code == 1011
    assert "FRAUD_KAFKA_BOOTSTRAP_SERVERS" in closed.value.reason
