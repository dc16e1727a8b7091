"""Redis key and payload formats, to the exact bytes, and windows rebuilt from members."""

from __future__ import annotations

import numpy as np

from features.batch import PAD_TS
from features.events import (
    SEPARATOR,
    Event,
    Vocabulary,
    decision_key,
    label_key,
    label_times,
    seen_key,
    window_key,
    windows_from_members,
)

EVENT = Event(
    "tx_1",
    1772452800000,
    12.5,
    "card_a",
    None,
    "dev_9",
    "203.0.113.7",
    "m_1",
    "FR",
    48.8566,
    2.3522,
)


def test_keys_are_exactly_these() -> None:
    assert window_key("fe", "card", "card_a") == "fe:w2:card:card_a"
    assert label_key("fe", "merchant", "m_1") == "fe:l:merchant:m_1"
    assert seen_key("fe", "tx_1") == "fe:seen:tx_1"
    assert decision_key("fe", "tx_1") == "fe:d:tx_1"


def test_payloads_are_exactly_these_bytes() -> None:
    assert EVENT.payload("card") == (
        b"tx_1\x1f1772452800000\x1f12.5\x1fm_1\x1fdev_9\x1f203.0.113.7\x1fFR\x1f48.8566\x1f2.3522"
    )
    assert EVENT.payload("account") == b"tx_1\x1f1772452800000\x1f12.5\x1fcard_a\x1fdev_9\x1fm_1"
    assert EVENT.payload("device") == b"tx_1\x1f1772452800000\x1f12.5\x1fcard_a\x1f203.0.113.7"
    assert EVENT.payload("ip") == b"tx_1\x1f1772452800000\x1f12.5\x1fcard_a\x1fdev_9"
    assert EVENT.payload("merchant") == b"tx_1\x1f1772452800000\x1f12.5\x1fcard_a"


def test_windows_are_right_aligned_in_time_order_from_latest_first_members() -> None:
    older = Event("tx_0", 1772452700000, 3.0, "card_a", None, None, None, "m_2", "US", None, None)
    members = [EVENT.payload("card") + SEPARATOR + older.payload("card"), b""]
    window = windows_from_members("card", members, Vocabulary())
    assert window.ts.tolist() == [[1772452700000, 1772452800000], [PAD_TS, PAD_TS]]
    assert window.amount[0].tolist() == [3.0, 12.5]
    merchants = window.attributes["merchant"]
    assert merchants[0, 0] != merchants[0, 1]
    assert merchants[1].tolist() == [-1, -1]
    assert window.latitude is not None
    assert np.isnan(window.latitude[0, 0])
    assert window.latitude[0, 1] == 48.8566


def test_label_times_are_sorted_and_padded() -> None:
    out = label_times([[30.0, 10.0], []])
    assert out.tolist() == [[10, 30], [PAD_TS, PAD_TS]]


def test_hiredis_packing_sends_the_bytes_redis_py_would() -> None:
    from redis.asyncio.connection import Connection

    from features.redis_store import HiredisPackedConnection

    ours, theirs = HiredisPackedConnection(), Connection()
    for args in (
        (
            "EVALSHA",
            "f" * 40,
            2,
            "fe:w2:card:c1",
            "fe:none",
            1_780_000_000_000,
            b"tx\x1f12\x1f9.5",
            "10",
        ),
        ("SET", "fe:d:tx1", b'{"score":0.1}', "PX", 604_800_000, "NX"),
        ("ZADD", "fe:l:card:c1", 1.5, "tx1"),  # a float: redis-py's own encoding
        ("SCRIPT LOAD", "return 1"),
    ):
        assert b"".join(ours.pack_command(*args)) == b"".join(theirs.pack_command(*args))
