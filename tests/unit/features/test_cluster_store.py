"""The cluster store's pure part: a batch cut into one-slot pieces, grouped per slot in
batch order, and the URL scheme that selects it."""

from __future__ import annotations

import pytest
from redis.crc import key_slot

from features.cluster_store import (
    ENTITY_SCRIPT,
    LIST_SCRIPT,
    Piece,
    group_by_slot,
    is_cluster_url,
    node_url,
    pieces,
)
from features.definitions import ENTITIES, LABELLED_ENTITIES, PROFILED_ENTITIES
from features.window_format import Event, entity_key, label_key


def event(tx: str, card: str, device: str | None = "dev_1", **changes: object) -> Event:
    fields: dict[str, object] = {
        "transaction_id": tx,
        "ts": 1_780_000_000_000,
        "amount": 12.5,
        "card": card,
        "account": None,
        "device": device,
        "ip": "203.0.113.7",
        "merchant": "m_1",
        "country": "FR",
        "latitude": None,
        "longitude": None,
    }
    fields.update(changes)
    return Event(**fields)  # type: ignore[arg-type]


def test_pieces_are_the_present_entities_in_batch_then_entity_order() -> None:
    batch = [event("t1", "card_a"), event("t2", "card_b", device=None)]
    got = [(p.tx, p.entity) for p in pieces("fe", batch)]
    present = [e for e in ENTITIES if e != "account"]
    assert got == [(0, e) for e in present] + [(1, e) for e in present if e != "device"]


def test_a_piece_carries_its_entity_s_keys_and_what_it_adds() -> None:
    e = event("t1", "card_a")
    by_entity = {p.entity: p for p in pieces("fe", [e])}
    for entity, piece in by_entity.items():
        value = e.entity_value(entity)
        assert value is not None
        assert piece.state == entity_key("fe", entity, value)
        label = label_key("fe", entity, value) if entity in LABELLED_ENTITIES else None
        profiled = entity in PROFILED_ENTITIES
        assert (piece.label, piece.profiled) == (label, profiled)
        assert piece.payload == e.payload(entity)
        # ENTITY_SCRIPT's layout: 2 keys, 6 arguments per piece.
        assert len(piece.slot_keys()) == 2
        flags = ("1" if label else "0") + ("1" if profiled else "0")
        assert piece.args() == [e.ts, e.payload(entity), *e.profile_args(), flags]


def test_one_group_per_slot_each_in_batch_order() -> None:
    batch = [event("t1", "card_a"), event("t2", "card_b"), event("t3", "card_a")]
    groups = group_by_slot(pieces("fe", batch))
    for slot, group in groups.items():
        assert all(key_slot(k.encode()) == slot for p in group for k in p.slot_keys())
        assert [p.tx for p in group] == sorted(p.tx for p in group)
    card_a = groups[key_slot(entity_key("fe", "card", "card_a").encode())]
    assert [(p.tx, p.entity) for p in card_a if p.entity == "card"] == [(0, "card"), (2, "card")]
    # The shared merchant, device and IP: one call each, with all three transactions.
    merchant = groups[key_slot(entity_key("fe", "merchant", "m_1").encode())]
    assert [p.tx for p in merchant if p.entity == "merchant"] == [0, 1, 2]
    assert sum(len(g) for g in groups.values()) == len(pieces("fe", batch))


def test_a_piece_whose_keys_span_slots_is_refused() -> None:
    piece = Piece(0, "card", "fe:e4:{card:a}", "fe:l:{card:b}", True, 0, b"", (0, 0, 0))
    with pytest.raises(ValueError, match="not in one slot"):
        group_by_slot([piece])


def test_the_cluster_scheme_selects_the_cluster_store() -> None:
    assert is_cluster_url("redis+cluster://127.0.0.1:7000/0")
    assert is_cluster_url("rediss+cluster://cache.example:6380")
    assert not is_cluster_url("redis://127.0.0.1:6379/0")
    assert node_url("redis+cluster://127.0.0.1:7000/0") == "redis://127.0.0.1:7000/0"
    assert node_url("rediss+cluster://h:6380") == "rediss://h:6380"


def test_the_scripts_share_the_single_node_script_s_argument_layout() -> None:
    from features.redis_store import COMMON_LUA, WINDOW_SCRIPT

    for script in (ENTITY_SCRIPT, LIST_SCRIPT, WINDOW_SCRIPT):
        assert script.startswith(COMMON_LUA)
