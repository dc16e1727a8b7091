"""The stream hub: per-client bounded buffers."""

from __future__ import annotations

import orjson

from live.buffers import Hub


def test_a_slow_client_loses_its_oldest_messages_and_is_told_how_many() -> None:
    hub = Hub(client_buffer=3)
    slow, fast = hub.join(), hub.join()
    for i in range(10):
        hub.broadcast({"n": i})
        if i % 2:
            assert [orjson.loads(m)["n"] for m in fast.take()] == [i - 1, i]
    taken = [orjson.loads(m) for m in slow.take()]
    assert taken == [{"type": "dropped", "count": 7}, {"n": 7}, {"n": 8}, {"n": 9}]
    assert slow.dropped == 7
    assert fast.dropped == 0
    hub.broadcast({"n": 10})
    assert [orjson.loads(m) for m in slow.take()] == [{"n": 10}]  # told once
    hub.leave(slow)
    hub.broadcast({"n": 11})
    assert slow.take() == []


def test_a_client_limited_to_one_scope_gets_only_its_decisions_and_every_aggregate() -> None:
    hub = Hub()
    everyone, gateway = hub.join(), hub.join(only="k_a")
    for scope in ("k_a", "k_b", ""):
        hub.broadcast({"type": "decision", "scope": scope, "transaction_id": "t"})
    hub.broadcast({"type": "aggregate", "count": 3})
    assert [orjson.loads(m).get("scope") for m in everyone.take()] == ["k_a", "k_b", "", None]
    assert [orjson.loads(m)["type"] for m in gateway.take()] == ["decision", "aggregate"]
