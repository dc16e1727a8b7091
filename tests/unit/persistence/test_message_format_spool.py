"""The audit event to the exact bytes, the spool's order and torn-tail handling, and where a
key's records go on the topic."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
from aiokafka.partitioner import DefaultPartitioner

from persistence.message_format import (
    audit_event,
    challenger_json,
    encoded_audit_event,
    scored_at_text,
)
from persistence.spool import Spool
from persistence.topic_sender import partition_index


def test_audit_event_is_exactly_these_bytes() -> None:
    event = audit_event(
        {"transaction_id": "t1", "amount": 12.5, "device_id": None},
        b'{"transaction_id":"t1","score":0.1,"risk_tier":"low"}',
        datetime(2026, 11, 28, 12, 0, 0, 123456, tzinfo=UTC),
        "3f2a9c0d1e4b5a6c",
    )
    assert event == (
        b'{"decision":{"transaction_id":"t1","score":0.1,"risk_tier":"low"},'
        b'"request":{"amount":12.5,"device_id":null,"transaction_id":"t1"},'
        b'"schema":1,"scope":"3f2a9c0d1e4b5a6c","scored_at":"2026-11-28T12:00:00.123456Z"}'
    )


def test_an_event_assembled_from_encoded_parts_is_the_same_bytes() -> None:
    request = {"amount": 12.5, "device_id": None, "transaction_id": "t1"}
    answer = b'{"transaction_id":"t1","score":0.1,"risk_tier":"low"}'
    at = datetime(2026, 11, 28, 12, 0, 0, 123456, tzinfo=UTC)
    for scope in ("3f2a9c0d1e4b5a6c", "", 'a"b\\c'):
        assembled = encoded_audit_event(
            orjson.dumps(request, option=orjson.OPT_SORT_KEYS), answer, scored_at_text(at), scope
        )
        assert assembled == audit_event(request, answer, at, scope)


def test_a_challengers_result_comes_first_in_the_sorted_event_and_assembles_the_same() -> None:
    request = {"amount": 12.5, "transaction_id": "t1"}
    answer = b'{"transaction_id":"t1","score":0.1}'
    at = datetime(2026, 11, 28, 12, 0, 0, 123456, tzinfo=UTC)
    shadow = {"decision": "review", "model_version": "v2", "risk_tier": "high", "score": 0.8}
    event = audit_event(request, answer, at, "s", shadow)
    assert event.startswith(
        b'{"challenger":{"decision":"review","model_version":"v2","risk_tier":"high",'
        b'"score":0.8},"decision":{"transaction_id":"t1"'
    )
    assembled = encoded_audit_event(
        orjson.dumps(request, option=orjson.OPT_SORT_KEYS),
        answer,
        scored_at_text(at),
        "s",
        challenger_json("review", "v2", "high", 0.8),
    )
    assert assembled == event


def test_spool_keeps_order_across_reopen_and_clears(tmp_path: Path) -> None:
    path = tmp_path / "audit.spool"
    spool = Spool(path)
    spool.append([(b"k1", b"v1"), (b"k2", b"")])
    spool.append([(b"", b"v3")])
    spool.close()
    again = Spool(path)
    assert again.records == 3
    assert again.read() == [(b"k1", b"v1"), (b"k2", b""), (b"", b"v3")]
    again.clear()
    assert again.read() == []
    again.append([(b"k4", b"v4")])
    assert again.read() == [(b"k4", b"v4")]
    again.close()


def test_a_torn_last_record_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "audit.spool"
    spool = Spool(path)
    spool.append([(b"k1", b"v1"), (b"k2", b"value-two")])
    spool.close()
    path.write_bytes(path.read_bytes()[:-3])  # power loss in the middle of the last write
    reopened = Spool(path)
    assert reopened.read() == [(b"k1", b"v1")]
    assert reopened.records == 1
    reopened.close()


def test_a_key_s_partition_is_the_default_partitioner_s() -> None:
    partitions = list(range(12))
    for i in range(2000):
        key = f"card_{i}_{'x' * (i % 7)}".encode()
        index = partition_index(key, len(partitions))
        assert partitions[index] == DefaultPartitioner()(key, partitions, partitions)
