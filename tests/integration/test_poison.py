"""Poison messages on a real Apache Kafka topic, read by a real `fraud consume` process into
a real PostgreSQL: every message that is not a valid audit event (out-of-range dates with
offsets, wrong types, missing fields, invalid UTF-8, NUL characters, huge values, not JSON
at all) goes to dead_letters, the good messages around them are stored and alert, the
offsets move past all of them, and the process neither stops nor trips over them again
after a restart.

A message accepted by the API once stopped the audit path for good: its timestamp
9999-12-31T23:59:59-14:00 overflowed when converted to UTC, the error escaped the consume
loop before the offsets were committed, and every restart failed on it again."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from localservers import stop
from localservers.kafka import KafkaCluster
from tests.audit_events import audit_bytes
from tests.pg import DATABASE_URL, query
from tests.receivers import HttpReceiver

TOPIC = "transactions.scored"
SECRET = "poison-secret"


def event(**changes: Any) -> bytes:
    """A valid audit event with changes: `request.x` / `decision.x` / top-level keys set (to
    the value; DELETE removes the key)."""
    value = orjson.loads(audit_bytes("poisoned", "card_p"))
    for path, new in changes.items():
        where = value
        *parents, name = path.split("__")
        for parent in parents:
            where = where[parent]
        if new is DELETE:
            del where[name]
        else:
            where[name] = new
    return orjson.dumps(value)


DELETE = object()
VALID = audit_bytes("poisoned", "card_p")
POISON: dict[str, bytes | None] = {
    # Not JSON, or not an object.
    "not json": b"{not json",
    "empty": b"",
    "tombstone": None,
    "invalid utf-8": b"\xff\xfe\xfd",
    "invalid utf-8 in a string": VALID.replace(b'"card_p"', b'"card_\xff\xfe"'),
    "a lone surrogate": VALID.replace(b'"card_p"', b'"card_\\ud800"'),
    "json array": b"[1, 2]",
    "json number": b"42",
    "json null": b"null",
    "json string": b'"event"',
    "too deep to read": b"[" * 2_000 + b"]" * 2_000,
    # Not this schema.
    "schema 99": event(schema=99),
    "schema as text": event(schema="1"),
    "schema true": event(schema=True),
    "no schema": event(schema=DELETE),
    # Missing or misshapen parts.
    "request not an object": event(request=["x"]),
    "no decision": event(decision=DELETE),
    "no card": event(request__card_id=DELETE),
    "no timestamp": event(request__timestamp=DELETE),
    "no scored_at": event(scored_at=DELETE),
    "other transaction in the decision": event(decision__transaction_id="someone_else"),
    # Wrong types.
    "card as a number": event(request__card_id=123),
    "transaction id as a list": event(
        request__transaction_id=["poisoned"], decision__transaction_id=["poisoned"]
    ),
    "account as a number": event(request__account_id=5),
    "amount as text": event(request__amount="12.50"),
    "amount true": event(request__amount=True),
    "score as text": event(decision__score="0.5"),
    "degraded as text": event(decision__degraded="yes"),
    "latency as text": event(decision__latency_ms="fast"),
    "unknown tier": event(decision__risk_tier="severe"),
    "reasons as text": event(decision__reasons="none"),
    "a reason without a feature": event(decision__reasons=[{"value": 1, "contribution": 2}]),
    # Times: out of range with offsets (the API took these once), naive, not times at all.
    "event time past 9999 in UTC": event(request__timestamp="9999-12-31T23:59:59-14:00"),
    "event time before year 1 in UTC": event(request__timestamp="0001-01-01T00:00:00+14:00"),
    "scored in 9999": event(scored_at="9999-12-31T23:59:59Z"),
    "scored past 9999 in UTC": event(scored_at="9999-12-31T23:59:59-14:00"),
    "naive event time": event(request__timestamp="2026-11-28T12:00:00"),
    "event time as a number": event(request__timestamp=1795863600),
    "not a time": event(scored_at="yesterday"),
    # NUL characters, which PostgreSQL's text and jsonb cannot hold.
    "NUL in the card": event(request__card_id="card\x00p"),
    "NUL in a reason": event(
        decision__reasons=[{"feature": "\x00", "value": 1, "contribution": 2}]
    ),
    "NUL in a key": event(request__extra={"\x00": 1}),
    # Huge values.
    "amount beyond a double": VALID.replace(b'"amount":249.99', b'"amount":1e400'),
    "integer beyond a double": VALID.replace(b'"amount":249.99', b'"amount":1' + b"0" * 400),
    "a card id of 100,000 characters": event(request__card_id="c" * 100_000),
    "a merchant id past the limit": event(request__merchant_id=os.urandom(200).hex()),
    "nested past what can be written back": VALID.replace(
        b'"card_id":"card_p"', b'"card_id":"card_p","extra":' + b"[" * 300 + b"]" * 300
    ),
}


def good(tx: str, tier: str = "low") -> bytes:
    return audit_bytes(tx, f"card_{tx}", tier)


async def produce(bootstrap: str, values: list[bytes | None], create: bool = False) -> None:
    if create:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:  # one partition: every poison is ahead of the good message behind it
            await admin.create_topics([NewTopic(TOPIC, num_partitions=1, replication_factor=1)])
        finally:
            await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for n, value in enumerate(values):
            await producer.send_and_wait(TOPIC, key=f"k{n}".encode(), value=value)
    finally:
        await producer.stop()


async def committed(bootstrap: str, group: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    found = offsets.get(TopicPartition(TOPIC, 0))
    return -1 if found is None else int(found.offset)


def counts(schema: str) -> tuple[int, int]:
    try:
        decisions = query(schema, "SELECT count(*) FROM decisions")[0][0]
        dead = query(schema, "SELECT count(*) FROM dead_letters")[0][0]
    except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
        return (0, 0)  # not migrated yet
    return int(decisions), int(dead)


def wait_for(check: Callable[[], bool], what: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    while not check():
        assert process.poll() is None, f"fraud consume exited ({process.returncode}) {what}"
        assert time.monotonic() < deadline, f"timed out {what}"
        time.sleep(0.3)


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    http = HttpReceiver()
    yield http
    http.close()


@pytest.mark.timeout(300)
def test_poison_messages_are_dead_lettered_and_the_good_ones_behind_them_stored(
    kafka: Callable[[int], KafkaCluster], schema: str, tmp_path: Path, receiver: HttpReceiver
) -> None:
    cluster = kafka(1)
    group = f"g-{schema}"
    env = os.environ | {
        "FRAUD_ENVIRONMENT": "test",
        "FRAUD_KAFKA_BOOTSTRAP_SERVERS": cluster.bootstrap,
        "FRAUD_AUDIT_TOPIC": TOPIC,
        "FRAUD_DATABASE_URL": DATABASE_URL,
        "FRAUD_DATABASE_SCHEMA": schema,
        "FRAUD_CONSUMER_GROUP": group,
        "FRAUD_CONSUMER_BATCH_SIZE": "7",  # batches mixing good and bad messages
        "FRAUD_ALERT_WEBHOOK_URL": receiver.url("/webhook"),
        "FRAUD_ALERT_WEBHOOK_SECRET": SECRET,
    }
    log = tmp_path / "consume.log"

    def consume() -> subprocess.Popen[bytes]:
        with open(log, "ab") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "cli.main", "consume"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    # A good one first (so refused rows share batches with one that is written), every
    # poison, a good one that alerts, then the good one behind them all.
    messages = [good("first"), *POISON.values(), good("alerting", "high"), good("last")]
    asyncio.run(produce(cluster.bootstrap, messages, create=True))
    process = consume()
    try:
        wait_for(lambda: counts(schema) == (3, len(POISON)), "storing the messages", process)
        wait_for(
            lambda: asyncio.run(committed(cluster.bootstrap, group)) == len(messages),
            "committing past them",
            process,
        )
        wait_for(lambda: len(receiver.received) == 1, "alerting", process)
        assert process.poll() is None
    finally:
        stop(process)
    assert process.returncode == 0, log.read_text(errors="replace")

    stored = {r[0] for r in query(schema, "SELECT transaction_id FROM decisions")}
    assert stored == {"first", "alerting", "last"}
    letters = {
        bytes(r["value"]) if r["value"] is not None else None: (r["offset"], r["error"])
        for r in query(schema, 'SELECT "offset", value, error FROM dead_letters')
    }
    assert len(letters) == len(POISON)
    for name, value in POISON.items():
        assert value in letters, name
        error = letters[value][1]
        assert error, name
        assert "\x00" not in error
    overflow = POISON["event time past 9999 in UTC"]
    assert "outside years 1 to 9999" in letters[overflow][1]
    assert "timestamp" in letters[overflow][1]

    # A restart starts after them: nothing is read again, the next good message is stored.
    asyncio.run(produce(cluster.bootstrap, [good("after_restart")]))
    process = consume()
    try:
        wait_for(lambda: counts(schema) == (4, len(POISON)), "after the restart", process)
    finally:
        stop(process)
    assert process.returncode == 0
    assert "Traceback" not in log.read_text(errors="replace")
