"""What the window scripts are sent and answer, position by position, written once.

Each layout is a tuple of slot names. A name `family.entity` is one of a family of slots
(a window key per entity, say), in the order of its entity list; any other name is a slot
of its own. The Python that builds a batch's keys and arguments and parses the replies
orders them by these tuples, and the Lua reads them at the offsets `lua_offsets` writes
from the same tuples, so the two cannot drift apart (a test pins one transaction's keys
and arguments to the exact bytes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeVar

from features.definitions import ENTITIES, LABELLED_ENTITIES, PROFILED_ENTITIES

Layout = tuple[str, ...]
T = TypeVar("T")


def family(name: str, entities: Sequence[str]) -> Layout:
    return tuple(f"{name}.{e}" for e in entities)


# The arguments every window script starts with (ARGV[1..10]).
COMMON_ARGS: Layout = (
    "history_ms",
    "max_events",
    "keep_events",
    "ttl_ms",
    "label_window_ms",
    "max_labels",
    "response_ttl_ms",
    "profile_ttl_ms",
    "ceiling_ms",
    "now_ms",
)

# One transaction of the single node's batch script: its keys (an entity's state holds its
# window and profile), its arguments (`present`: "1"/"0" per state and label key, in key order), and the reply of one that was
# read (`recorded`: false if this call recorded it, 2 if an earlier request had).
TX_KEYS: Layout = (
    *family("state", ENTITIES),
    *family("label", LABELLED_ENTITIES),
    "seen",
    "decision",
)
TX_ARGS: Layout = (
    "ts",
    *family("payload", ENTITIES),
    "day",
    "cents",
    "squares",
    "present",
    "fingerprint",
    "list_fields",
    "ip_hex",
)
TX_REPLY: Layout = (
    "recorded",
    *family("members", ENTITIES),
    *family("labels", LABELLED_ENTITIES),
    *family("totals", PROFILED_ENTITIES),
    "list_hits",
)
# The keys `present` flags, in order.
PRESENT_KEYS: Layout = TX_KEYS[: TX_KEYS.index("seen")]

# The cluster's scripts: one entity of one transaction (a piece: its keys share a slot),
# a transaction's claim of its id, and a transaction's list look-up.
PIECE_KEYS: Layout = ("state", "label")
PIECE_ARGS: Layout = ("ts", "payload", "day", "cents", "squares", "flags")
PIECE_REPLY: Layout = ("members", "labels", "totals", "fresh")
CLAIM_KEYS: Layout = ("seen", "decision")
CLAIM_ARGS: Layout = ("fingerprint", "response_ttl_ms")
LIST_KEYS: Layout = ("list_hash", "lengths_hash")
LIST_ARGS: Layout = ("list_fields", "ip_hex")


def ordered(layout: Layout, values: Mapping[str, T]) -> list[T]:
    """The values in the layout's order; KeyError names a slot left out, ValueError one the
    layout does not have."""
    if len(values) != len(layout):
        unknown = sorted(set(values) - set(layout))
        raise ValueError(f"slots not in the layout: {unknown}")
    return [values[name] for name in layout]


def position(layout: Layout, name: str) -> int:
    """A slot's 0-based position in its layout."""
    return layout.index(name)


def lua_offsets(prefix: str, layout: Layout) -> str:
    """Lua locals for a layout, 1-based as Lua indexes: `{prefix}_SIZE`, then for each
    slot of its own `{prefix}_{NAME}` (its index), and for each family `{prefix}_{FAMILY}`
    (the index before its first slot: slot i of it is at that + i) and `{prefix}_N_{FAMILY}`
    (how many)."""
    lines = [f"local {prefix}_SIZE = {len(layout)}"]
    families: dict[str, list[int]] = {}
    for i, name in enumerate(layout, 1):
        head, dot, _ = name.partition(".")
        if dot:
            families.setdefault(head, []).append(i)
        else:
            lines.append(f"local {prefix}_{name.upper()} = {i}")
    for head, indexes in families.items():
        lines.append(f"local {prefix}_{head.upper()} = {indexes[0] - 1}")
        lines.append(f"local {prefix}_N_{head.upper()} = {len(indexes)}")
    return "\n".join(lines) + "\n"
