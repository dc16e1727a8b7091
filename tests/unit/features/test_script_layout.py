"""The window scripts' layouts, written once: one transaction's keys and arguments pinned to
the exact bytes, and the Lua offsets generated from the same tuples."""

from __future__ import annotations

import re

import pytest

from features.cluster_store import CLAIM_SCRIPT, ENTITY_SCRIPT, LIST_SCRIPT, Piece
from features.redis_store import WINDOW_SCRIPT, common_args, transaction_args, transaction_keys
from features.script_layout import TX_ARGS, TX_KEYS, TX_REPLY, lua_offsets, ordered
from features.window_format import Event

EVENT = Event(
    transaction_id="tx_1",
    ts=1795867200000,
    amount=249.99,
    card="card_a",
    account=None,
    device="dev_1",
    ip="203.0.113.7",
    merchant="m_1",
    country="FR",
    latitude=48.85,
    longitude=2.35,
    scope="3f2a9c0d1e4b5a6c",
    fingerprint="0123456789abcdef0123456789abcdef",
)
COMMON = "86b47aa5bbc0850100ca0622a201000048e17a14ae3f6f40"  # id code, time, amount


def test_one_transactions_keys_are_exactly_these() -> None:
    assert transaction_keys("fraud", EVENT) == [
        "fraud:e4:{card:card_a}",
        "fraud:none",  # no account
        "fraud:e4:{device:dev_1}",
        "fraud:e4:{ip:203.0.113.7}",
        "fraud:e4:{merchant:m_1}",
        "fraud:l:{card:card_a}",
        "fraud:l:{device:dev_1}",
        "fraud:l:{ip:203.0.113.7}",
        "fraud:l:{merchant:m_1}",
        "fraud:seen:{3f2a9c0d1e4b5a6c:tx_1}",
        "fraud:d:{3f2a9c0d1e4b5a6c:tx_1}",
    ]


def test_one_transactions_arguments_are_exactly_these() -> None:
    args = transaction_args(EVENT)
    payloads = [a.hex() for a in args[1:6] if isinstance(a, bytes)]
    assert args[0] == 1795867200000
    assert payloads == [
        COMMON + "e59a968348abc754d88f74ee1954ec248901665cb3ecea2f"
        "ecaa228fd8e5a72fcdcccccccc6c4840cdcccccccccc0240",  # card: its location too
        COMMON + "73cf5d10ed7dc057d88f74ee1954ec24e59a968348abc754",
        COMMON + "73cf5d10ed7dc0578901665cb3ecea2f",
        COMMON + "73cf5d10ed7dc057d88f74ee1954ec24",
        COMMON + "73cf5d10ed7dc057",
    ]
    assert args[6:] == [
        20785,  # day
        24999,  # cents
        62495,  # squares
        "101111111",  # present: no account state
        "0123456789abcdef0123456789abcdef",
        "card:card_a\ndevice:dev_1\nip:203.0.113.7\nmerchant:m_1",
        "cb007107",
    ]
    assert len(args) == len(TX_ARGS)


def test_the_common_arguments_trim_at_the_clock_live_and_at_each_event_in_a_replay() -> None:
    live = common_args(604_800_000, False, 1795867201234)
    assert live == [
        604800000,
        256,
        320,
        608400000,
        2592000000,
        256,
        604800000,
        2682000000,
        1795867201234,
        1795867201234,
    ]
    assert common_args(604_800_000, True, 1795867201234)[8] == 2**53


def test_the_scripts_read_the_offsets_of_the_same_layouts() -> None:
    assert lua_offsets("K", TX_KEYS) == (
        "local K_SIZE = 11\nlocal K_SEEN = 10\nlocal K_DECISION = 11\n"
        "local K_STATE = 0\nlocal K_N_STATE = 5\nlocal K_LABEL = 5\nlocal K_N_LABEL = 4\n"
    )
    for offsets in (lua_offsets("K", TX_KEYS), lua_offsets("A", TX_ARGS)):
        assert offsets in WINDOW_SCRIPT
    assert lua_offsets("R", TX_REPLY) in WINDOW_SCRIPT
    assert "local A_SIZE = 6" in ENTITY_SCRIPT
    assert "local K_DECISION = 2" in CLAIM_SCRIPT
    assert "local A_IP_HEX = 2" in LIST_SCRIPT
    # No position written by hand: every ARGV and KEYS index is an offset's (the undo
    # script, one key and five arguments of one piece, aside).
    for script in (WINDOW_SCRIPT, ENTITY_SCRIPT, CLAIM_SCRIPT, LIST_SCRIPT):
        assert re.search(r"(ARGV|KEYS)\[[0-9]", script) is None


def test_a_cluster_piece_orders_its_keys_and_arguments_by_its_layout() -> None:
    piece = Piece(0, "card", "s", None, False, 5, b"p", (1, 2, 3))
    assert piece.slot_keys() == ["s", "s"]  # no label window: the state key again
    assert piece.args() == [5, b"p", 1, 2, 3, "00"]


def test_values_must_fill_the_layout_exactly() -> None:
    with pytest.raises(KeyError):
        ordered(("a", "b"), {"a": 1, "c": 2})
    with pytest.raises(ValueError, match="not in the layout"):
        ordered(("a",), {"a": 1, "b": 2})
