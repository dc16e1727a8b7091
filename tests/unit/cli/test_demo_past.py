"""The demo's past walked in event-time order: waves that never let a transaction be
scored before an earlier one it shares an entity with, and chargebacks posted when they
were reported, after their transaction, and only those reported by now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from cli.demo_past import earlier_chargebacks, entity_keys, plan, waves
from features.encode import prepare_history

T0 = datetime(2026, 11, 9, tzinfo=UTC)
HOUR_MS = 3_600_000


def at(hours: float) -> str:
    return (T0 + timedelta(hours=hours)).isoformat(timespec="milliseconds")


def frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    base = {
        "amount": 10.0,
        "currency": "EUR",
        "merchant_category": "5411",
        "channel": "pos",
        "is_fraud": 0,
        "label_reported_at": None,
    }
    return pd.DataFrame([base | row for row in rows])


def test_a_wave_holds_no_two_rows_sharing_an_entity_and_follows_the_earlier_ones() -> None:
    keys = [
        [("card", "a"), ("merchant", "m1")],
        [("card", "b"), ("merchant", "m2")],  # nothing shared: same wave
        [("card", "c"), ("merchant", "m1")],  # m1 again: after the first
        [("card", "a"), ("merchant", "m3")],  # card a again: after the first too
        [("card", "d"), ("merchant", "m1")],  # after the third
        [("card", "e"), ("merchant", "m4")],
    ]
    assert waves(keys) == [0, 0, 1, 1, 2, 0]


def test_entity_keys_are_each_rows_entities_without_the_missing_ones() -> None:
    rows = frame(
        [
            {"transaction_id": "t1", "timestamp": at(0), "card_id": "c1", "merchant_id": "m1"},
            {
                "transaction_id": "t2",
                "timestamp": at(1),
                "card_id": "c2",
                "merchant_id": "m1",
                "device_id": "d1",
                "ip_address": None,
            },
        ]
    )
    keys = entity_keys(rows)
    assert dict(keys[0]) == {"card": "c1", "merchant": "m1"}
    assert dict(keys[1]) == {"card": "c2", "merchant": "m1", "device": "d1"}


def test_chargebacks_go_where_they_were_reported_after_their_transaction_never_past_now() -> None:
    rows = frame(
        [
            {"transaction_id": "t0", "timestamp": at(0.5), "card_id": "c1", "merchant_id": "m1"},
            # reported in the fourth hour: posted before that hour's transactions are scored
            {
                "transaction_id": "t1",
                "timestamp": at(1.2),
                "card_id": "c2",
                "merchant_id": "m1",
                "is_fraud": 1,
                "label_reported_at": at(3.5),
            },
            # reported within its own hour: the next one
            {
                "transaction_id": "t2",
                "timestamp": at(2.1),
                "card_id": "c3",
                "merchant_id": "m2",
                "is_fraud": 1,
                "label_reported_at": at(2.4),
            },
            {"transaction_id": "t3", "timestamp": at(3.7), "card_id": "c4", "merchant_id": "m1"},
            # reported after the past's last transaction but before now: after the walk
            {
                "transaction_id": "t4",
                "timestamp": at(3.8),
                "card_id": "c5",
                "merchant_id": "m3",
                "is_fraud": 1,
                "label_reported_at": at(30),
            },
            # reported after now: no label yet
            {
                "transaction_id": "t5",
                "timestamp": at(3.9),
                "card_id": "c6",
                "merchant_id": "m3",
                "is_fraud": 1,
                "label_reported_at": at(80),
            },
        ]
    )
    past = prepare_history(rows, 7.0)
    now_ms = int((T0 + timedelta(hours=48)).timestamp() * 1000)
    late = (
        {"card": "old"},
        "scope\x1ftx_old",
        int((T0 + timedelta(hours=3.1)).timestamp() * 1000),
        True,
    )
    chunks = plan(past, [(late[2], late)], now_ms, HOUR_MS)
    ids = past.frame["transaction_id"].tolist()

    def named(rows: list[int]) -> list[str]:
        return [ids[i] for i in rows]

    assert [named(c.scored) for c in chunks] == [["t0"], ["t1"], ["t2"], ["t3", "t4", "t5"], []]
    assert [named(c.posted) for c in chunks] == [[], [], [], ["t1", "t2"], ["t4"]]
    assert [len(c.labels) for c in chunks] == [0, 0, 0, 1, 0]


def test_the_historys_late_chargebacks_are_those_reported_after_its_last_transaction() -> None:
    rows = frame(
        [
            {
                "transaction_id": "t1",
                "timestamp": at(0),
                "card_id": "c1",
                "merchant_id": "m1",
                "is_fraud": 1,
                "label_reported_at": at(5),  # before the last transaction: backfilled
            },
            {
                "transaction_id": "t2",
                "timestamp": at(1),
                "card_id": "c2",
                "merchant_id": "m1",
                "device_id": "d2",
                "is_fraud": 1,
                "label_reported_at": at(20),
            },
            {"transaction_id": "t3", "timestamp": at(10), "card_id": "c3", "merchant_id": "m2"},
        ]
    )
    late = earlier_chargebacks(rows, "scope", 7.0)
    assert len(late) == 1
    known, (entities, member, known_at, fraud) = late[0]
    assert known == known_at == int((T0 + timedelta(hours=20)).timestamp() * 1000)
    assert entities == {"card": "c2", "merchant": "m1", "device": "d2"}
    assert "t2" in member
    assert fraud


def test_the_keep_alive_client_reuses_its_connections_and_reads_each_answer() -> None:
    import asyncio

    from cli.demo_past import KeepAlive, PastError

    accepted = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal accepted
        accepted += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    break
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                body = await reader.readexactly(length)
                if body == b"close":
                    break
                status = b"503 Service Unavailable" if body == b"busy" else b"200 OK"
                answer = b'{"echo": "' + body + b'"}'
                writer.write(
                    b"HTTP/1.1 " + status + b"\r\ncontent-length: %d\r\n\r\n" % len(answer) + answer
                )
        finally:
            writer.close()
            await writer.wait_closed()

    async def main() -> None:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        api = KeepAlive(f"http://127.0.0.1:{port}", "fk_x", connections=2)
        try:
            answers = await asyncio.gather(*(api.post("/v1/score", b"a%d" % i) for i in range(10)))
            assert [status for status, _ in answers] == [200] * 10
            assert answers[3][1] == b'{"echo": "a3"}'
            assert (await api.post("/v1/feedback", b"busy"))[0] == 503
            assert accepted <= 2  # kept alive, at most `connections`
            with pytest.raises(PastError, match="no answer from the API"):
                await api.post("/v1/score", b"close")
        finally:
            await api.close()
            server.close()
            await server.wait_closed()

    asyncio.run(main())
