"""Redis key and payload formats, to the exact bytes, and windows rebuilt from members."""

from __future__ import annotations

import numpy as np
import pytest

from features.batch import PAD_TS
from features.compute import amount_cents, amount_squares
from features.definitions import DAY_MS
from features.window_format import (
    MEMBER_DTYPES,
    Event,
    decision_key,
    entity_key,
    label_key,
    label_times,
    seen_key,
    value_code,
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
    assert entity_key("fe", "card", "card_a") == "fe:e4:{card:card_a}"
    assert label_key("fe", "merchant", "m_1") == "fe:l:{merchant:m_1}"
    assert seen_key("fe", "0123456789abcdef", "tx_1") == "fe:seen:{0123456789abcdef:tx_1}"
    assert decision_key("fe", "0123456789abcdef", "tx_1") == "fe:d:{0123456789abcdef:tx_1}"


def test_an_entitys_keys_share_one_cluster_slot_and_so_do_a_transactions() -> None:
    from redis.crc import key_slot

    for value in ("card_a", "a}b", "{x}", ""):
        keys = [f("fe", "card", value) for f in (entity_key, label_key)]
        assert len({key_slot(k.encode()) for k in keys}) == 1, keys
    keys = [f("fe", "scope", "tx}1") for f in (seen_key, decision_key)]
    assert len({key_slot(k.encode()) for k in keys}) == 1


def test_codes_are_stable_across_processes_and_releases() -> None:
    # Pinned: members written by one process or release are read by another.
    assert value_code("card_a") == 6323192333963480947
    assert value_code("tx_1") == 109705678108144774
    assert value_code(None) == value_code("") == -1
    assert 0 <= value_code("m_1") < 2**63


def test_payloads_are_exactly_these_bytes() -> None:
    assert EVENT.payload("merchant") == bytes.fromhex(
        "86b47aa5bbc0850100666bae9c010000000000000000294073cf5d10ed7dc057"
    )
    card = np.frombuffer(EVENT.payload("card"), MEMBER_DTYPES["card"])[0]
    assert card.tolist() == (
        value_code("tx_1"),
        1772452800000,
        12.5,
        value_code("m_1"),
        value_code("dev_9"),
        value_code("203.0.113.7"),
        value_code("FR"),
        48.8566,
        2.3522,
    )
    fields = {"account": ("card", "device", "merchant"), "device": ("card", "ip")}
    fields |= {"ip": ("card", "device"), "merchant": ("card",)}
    for entity, attributes in fields.items():
        record = np.frombuffer(EVENT.payload(entity), MEMBER_DTYPES[entity])[0]
        assert MEMBER_DTYPES[entity].names == ("code", "ts", "amount", *attributes)
        assert record["ts"] == 1772452800000
        assert record["amount"] == 12.5
        assert [record[a] for a in attributes] == [EVENT.codes[a] for a in attributes]


def test_windows_are_right_aligned_in_time_order_from_latest_first_members() -> None:
    older = Event("tx_0", 1772452700000, 3.0, "card_a", None, None, None, "m_2", "US", None, None)
    members = [EVENT.payload("card") + older.payload("card"), b""]
    window = windows_from_members("card", members)
    assert window.ts.tolist() == [[1772452700000, 1772452800000], [PAD_TS, PAD_TS]]
    assert window.amount[0].tolist() == [3.0, 12.5]
    merchants = window.attributes["merchant"]
    assert merchants[0].tolist() == [value_code("m_2"), value_code("m_1")]
    assert merchants[1].tolist() == [-1, -1]
    assert window.attributes["device"][0].tolist() == [-1, value_code("dev_9")]
    assert window.latitude is not None
    assert np.isnan(window.latitude[0, 0])
    assert window.latitude[0, 1] == 48.8566


def test_a_member_of_another_layout_is_refused_not_misread() -> None:
    with pytest.raises(ValueError, match="merchant window members are not 32-byte records"):
        windows_from_members("merchant", [EVENT.payload("merchant")[:-1]])


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
            "fe:w3:card:c1",
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


def test_an_event_adds_to_its_day_the_integers_the_replay_adds() -> None:
    """Online (Python floats, one event) and offline (numpy, a history) round the same way,
    half-cents and half-units included, so the profile totals agree exactly."""
    rng = np.random.default_rng(4)
    amounts = np.concatenate(
        [rng.uniform(0.01, 1_000_000, 5_000).round(2), [0.005, 0.015, 2.5, 3.5, 1_000_000.0]]
    )
    day = 20_454
    online = [
        Event(
            "t", day * DAY_MS + 1, float(a), "c", None, None, None, "m", None, None, None
        ).profile_args()
        for a in amounts
    ]
    assert {d for d, _, _ in online} == {day}
    assert [c for _, c, _ in online] == amount_cents(amounts).tolist()
    assert [q for _, _, q in online] == amount_squares(amounts).tolist()
