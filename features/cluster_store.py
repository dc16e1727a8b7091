"""The window store on a Redis Cluster: the same reads and records as RedisWindowStore, as
one script call per hash slot, all of a batch's sent as one pipeline per node at once
(redis-py's ClusterPipeline groups them by node and sends the nodes' concurrently).

A script may only touch keys of one slot, and a transaction's keys live on several: each
entity's state (window and profile) and label keys share a slot (their hash tag), so do a
transaction's seen and decision keys, and so do the lists' keys. Per batch:

    - the earlier answers, one SET NX each (their decision keys' slots);
    - CLAIM_SCRIPT per transaction (its idempotency slot): the stored answer, a conflict,
      or the claim (seen := fingerprint);
    - ENTITY_SCRIPT per slot holding a batch entity (in batch order, so a transaction
      sees the earlier ones of its batch): each read, then the member added unless the
      window holds it already and, only if it was new, the window bounded (as the single
      node's: members dated ahead never evict past ones) and the day profile incremented;
    - LIST_SCRIPT once (the lists' slot): every transaction's list hits.

Nothing orders the slots' writes against each other; each is idempotent on its own, so
any of them may run twice (a retry, redis-py's resend after a failover) and count once.
A conflict (its id used with another fingerprint) is known only from its claim, after
its entities were written: those writes are taken back at once (UNDO_SCRIPT), only where
its member was new. docs/architecture.md has the consistency model.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot
from redis.exceptions import NoScriptError

from controls.lists import address_hex, lengths_key, list_key
from features.definitions import ENTITIES, LABELLED_ENTITIES, PROFILED_ENTITIES
from features.redis_store import (
    COMMON_LUA,
    LIST_LUA,
    SEEN_MARGIN_MS,
    STATE_LUA,
    common_args,
    fingerprint,
    label_commands,
    list_fields,
    parse_read,
    stored_answer,
)
from features.script_layout import (
    CLAIM_ARGS,
    CLAIM_KEYS,
    LIST_ARGS,
    LIST_KEYS,
    PIECE_ARGS,
    PIECE_KEYS,
    PIECE_REPLY,
    TX_REPLY,
    lua_offsets,
    ordered,
    position,
)
from features.window_format import (
    Event,
    WindowRead,
    decision_key,
    entity_key,
    label_key,
    seen_key,
)

# KEYS: CLAIM_KEYS (one transaction). ARGV: CLAIM_ARGS.
# Returns {stored_response}, {1} (a conflict), {0} (new: recorded now) or {2} (recorded
# before with the same fingerprint, its answer not stored yet).
CLAIM_SCRIPT = (
    lua_offsets("K", CLAIM_KEYS)
    + lua_offsets("A", CLAIM_ARGS)
    + r"""
local fingerprint = ARGV[A_FINGERPRINT]
-- As the single node's claim: only a retry reads the stored answer (`seen` outlives `d`).
local seen = redis.call('SET', KEYS[K_SEEN], fingerprint,
                        'PX', tonumber(ARGV[A_RESPONSE_TTL_MS]) + SEEN_MARGIN_MS, 'NX', 'GET')
if not seen then return {0} end
if seen ~= fingerprint then return {1} end
local stored = redis.call('GET', KEYS[K_DECISION])
if stored then
  if string.sub(stored, 1, #fingerprint) == fingerprint then
    return {string.sub(stored, #fingerprint + 1)}
  end
  return {1}
end
return {2}
""".replace("SEEN_MARGIN_MS", str(SEEN_MARGIN_MS))
)

# KEYS: PIECE_KEYS per piece (one entity of one transaction): its state, its label window
# (the state key again where the entity has none: its flag says so).
# ARGV: COMMON_ARGS, then PIECE_ARGS per piece: ts, payload, day, cents, squares, flags
# ("1"/"0": has a label window, has a profile).
# Returns PIECE_REPLY per piece: members (back to back), label member/score pairs ({} if
# none), profile totals (false if none), 1 if its record was new else 0.
ENTITY_SCRIPT = (
    COMMON_LUA
    + lua_offsets("K", PIECE_KEYS)
    + lua_offsets("A", PIECE_ARGS)
    + lua_offsets("R", PIECE_REPLY)
    + r"""
local results = {}
for p = 0, #KEYS / K_SIZE - 1 do
  local k, a = K_SIZE * p, C_SIZE + A_SIZE * p
  local t = tonumber(ARGV[a + A_TS])
  local flags = ARGV[a + A_FLAGS]
  local profiled = string.sub(flags, 2, 2) == '1'
  -- The window is its own dedupe set: the record is the transaction's, the same bytes for
  -- the same request.
  local members, totals, fresh = entity_state(KEYS[k + K_STATE], ARGV[a + A_PAYLOAD], t,
                                              tonumber(ARGV[a + A_DAY]),
                                              tonumber(ARGV[a + A_CENTS]),
                                              tonumber(ARGV[a + A_SQUARES]), 'dedupe', profiled,
                                              profiled and ARGV[C_PROFILE_TTL_MS] or ARGV[C_TTL_MS])
  local labelled = {}
  if string.sub(flags, 1, 1) == '1' then
    labelled = redis.call('ZREVRANGEBYSCORE', KEYS[k + K_LABEL], '(' .. t, t - label_window,
                          'WITHSCORES', 'LIMIT', 0, max_labels)
  end
  local out = {}
  out[R_MEMBERS], out[R_LABELS], out[R_TOTALS], out[R_FRESH] = members, labelled, totals,
    fresh and 1 or 0
  results[p + 1] = out
end
return results
"""
)

# KEYS: LIST_KEYS (the list hash, the lengths hash). ARGV: COMMON_ARGS (only now_ms is read), then
# LIST_ARGS per transaction: its exact list fields, its IP address in hex.
# Returns per transaction its hits (id, entity, action, flat).
LIST_SCRIPT = (
    COMMON_LUA
    + LIST_LUA
    + lua_offsets("K", LIST_KEYS)
    + lua_offsets("A", LIST_ARGS)
    + r"""
local lengths = list_lengths(KEYS[K_LIST_HASH], KEYS[K_LENGTHS_HASH])
local results = {}
for tx = 0, (#ARGV - C_SIZE) / A_SIZE - 1 do
  local a = C_SIZE + A_SIZE * tx
  results[tx + 1] = lengths and list_hits(KEYS[K_LIST_HASH], lengths, ARGV[a + A_LIST_FIELDS],
                                          ARGV[a + A_IP_HEX]) or {}
end
return results
"""
)

# A conflicting transaction's new record taken out of its entity's state again, and its
# profile increment. KEYS: the state. ARGV: payload, day, cents, squares, "1" if it has a
# profile. The profile's cached totals are dropped (recomputed by the next read).
UNDO_SCRIPT = (
    STATE_LUA
    + r"""
local s = redis.call('GET', KEYS[1]) or ''
local payload = ARGV[1]
local head, base = state_head(s)
local size = #payload
local j = find_member(s, base, (#s - base) / size, payload, struct.unpack('<i8', payload, 9))
if not j then return 0 end
local entries = string.sub(s, HEAD + 1, base)
if ARGV[5] == '1' then
  entries = add_to_day(s, head[#head], tonumber(ARGV[2]), -1, -tonumber(ARGV[3]),
                       -tonumber(ARGV[4]))
  head[1] = NO_DAY
end
local rest = string.sub(s, base + 1, base + j * size) .. string.sub(s, base + (j + 1) * size + 1)
redis.call('SET', KEYS[1], struct.pack(HEAD_FORMAT, unpack(head)) .. entries .. rest, 'KEEPTTL')
return 1
"""
)

SCRIPTS = {
    "claim": CLAIM_SCRIPT,
    "entity": ENTITY_SCRIPT,
    "list": LIST_SCRIPT,
    "undo": UNDO_SCRIPT,
}


@dataclass(frozen=True, slots=True)
class Piece:
    """One entity of one transaction: its keys (all in one slot) and what it adds."""

    tx: int  # the transaction's position in its batch
    entity: str
    state: str  # its window and profile
    label: str | None
    profiled: bool
    ts: int
    payload: bytes
    profile_args: tuple[int, int, int]

    def slot_keys(self) -> list[str]:
        """PIECE_KEYS."""
        return ordered(
            PIECE_KEYS,
            {"state": self.state, "label": self.label or self.state},
        )

    def args(self) -> list[bytes | int | str]:
        """PIECE_ARGS."""
        day, cents, squares = self.profile_args
        flags = ("1" if self.label else "0") + ("1" if self.profiled else "0")
        values: dict[str, bytes | int | str] = {"ts": self.ts, "payload": self.payload}
        values |= {"day": day, "cents": cents}
        return ordered(PIECE_ARGS, values | {"squares": squares, "flags": flags})


def pieces(prefix: str, events: Sequence[Event]) -> list[Piece]:
    """Every present entity of every event, in batch order, then ENTITIES order."""
    out = []
    for tx, event in enumerate(events):
        payloads = event.payloads()
        day_args = event.profile_args()
        for entity in ENTITIES:
            value = event.entity_value(entity)
            if not value:
                continue
            out.append(
                Piece(
                    tx,
                    entity,
                    entity_key(prefix, entity, value),
                    label_key(prefix, entity, value) if entity in LABELLED_ENTITIES else None,
                    entity in PROFILED_ENTITIES,
                    event.ts,
                    payloads[entity],
                    day_args,
                )
            )
    return out


def group_by_slot(batch: Sequence[Piece]) -> dict[int, list[Piece]]:
    """The pieces per hash slot, each slot's in batch order (one script call per slot):
    two transactions of one entity meet in one call, the earlier first."""
    groups: dict[int, list[Piece]] = {}
    for piece in batch:
        slot = key_slot(piece.state.encode())
        if any(key_slot(k.encode()) != slot for k in piece.slot_keys()):
            raise ValueError(f"the keys of {piece.entity} are not in one slot: {piece.slot_keys()}")
        groups.setdefault(slot, []).append(piece)
    return groups


def is_cluster_url(url: str) -> bool:
    return url.startswith(("redis+cluster://", "rediss+cluster://"))


def node_url(url: str) -> str:
    """The plain redis:// (or rediss://) URL of a cluster URL's seed node."""
    return url.replace("+cluster://", "://", 1)


_PIECE = {name: position(PIECE_REPLY, name) for name in PIECE_REPLY}


class ClusterWindowStore:
    """The WindowStore (features/store.py) on a Redis Cluster: RedisWindowStore's answers,
    from one script call per slot."""

    def __init__(
        self, client: RedisCluster, prefix: str, response_ttl_ms: int, replay: bool = False
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.response_ttl_ms = response_ttl_ms
        self.replay = replay
        self._shas: dict[str, str] = {}

    async def load_script(self) -> None:
        """Each script into every primary's cache (SCRIPT LOAD goes to all of them)."""
        for name, source in SCRIPTS.items():
            self._shas[name] = await self.client.script_load(source)

    def stored_answer(self, event: Event, body: bytes) -> tuple[str, bytes]:
        return stored_answer(self.prefix, event, body)

    async def read_and_record(
        self, events: Sequence[Event], responses: Sequence[tuple[str, bytes]] = ()
    ) -> list[WindowRead]:
        if not self._shas:
            await self.load_script()
        try:
            raw = await self._execute(events, responses)
        except NoScriptError:  # a promoted replica, a restarted or flushed node
            await self.load_script()
            raw = await self._execute(events, responses)
        return [parse_read(r) for r in raw]

    async def save_responses(self, responses: Sequence[tuple[str, bytes]]) -> None:
        await self.read_and_record((), responses)

    async def _execute(
        self, events: Sequence[Event], responses: Sequence[tuple[str, bytes]]
    ) -> list[object]:
        now_ms = time.time_ns() // 1_000_000
        common = common_args(self.response_ttl_ms, self.replay, now_ms)
        # EVALSHA through execute_command: redis-py refuses its evalsha() in a cluster
        # pipeline, yet routes the command by its keys (all in one slot here).
        pipe = self.client.pipeline()
        for key, value in responses:  # before the claims: a retry in this batch finds its answer
            pipe.set(key, value, px=self.response_ttl_ms, nx=True)
        for event in events:
            keys = ordered(
                CLAIM_KEYS,
                {
                    "seen": seen_key(self.prefix, event.scope, event.transaction_id),
                    "decision": decision_key(self.prefix, event.scope, event.transaction_id),
                },
            )
            claim: dict[str, str | int] = {"fingerprint": fingerprint(event)}
            claimed = ordered(CLAIM_ARGS, claim | {"response_ttl_ms": self.response_ttl_ms})
            pipe.execute_command("EVALSHA", self._shas["claim"], len(keys), *keys, *claimed)
        groups = list(group_by_slot(pieces(self.prefix, events)).values())
        for group in groups:
            keys = [k for piece in group for k in piece.slot_keys()]
            args = [a for piece in group for a in piece.args()]
            pipe.execute_command("EVALSHA", self._shas["entity"], len(keys), *keys, *common, *args)
        if events:
            lookups: list[str] = []
            for event in events:
                values = {"list_fields": list_fields(event), "ip_hex": address_hex(event.ip)}
                lookups += ordered(LIST_ARGS, values)
            hashes = {"list_hash": list_key(self.prefix), "lengths_hash": lengths_key(self.prefix)}
            lists = ordered(LIST_KEYS, hashes)
            pipe.execute_command(
                "EVALSHA", self._shas["list"], len(lists), *lists, *common, *lookups
            )
        results = await pipe.execute()
        if not events:
            return []
        claims = results[len(responses) : len(responses) + len(events)]
        entity_results = results[len(responses) + len(events) : -1]
        hits = results[-1]
        reads: dict[tuple[int, str], list[Any]] = {}
        for group, outputs in zip(groups, entity_results, strict=True):
            for piece, output in zip(group, outputs, strict=True):
                reads[(piece.tx, piece.entity)] = output
        conflicts = {tx for tx, claim in enumerate(claims) if claim == [1]}
        if conflicts:
            await self._undo([p for g in groups for p in g if p.tx in conflicts], reads)
        return [
            claim
            if len(claim) == 1 and claim not in ([0], [2])
            else self._assemble(tx, reads, hits[tx], pending=claim == [2])
            for tx, claim in enumerate(claims)
        ]

    @staticmethod
    def _assemble(
        tx: int, reads: dict[tuple[int, str], list[Any]], hits: Any, pending: bool
    ) -> list[Any]:
        """The window script's reply (TX_REPLY) for one transaction, from its pieces'."""

        def part(entity: str, name: str, absent: Any) -> Any:
            read = reads.get((tx, entity))
            return absent if read is None else read[_PIECE[name]]

        values: dict[str, Any] = {"recorded": 2 if pending else None, "list_hits": hits}
        values |= {f"members.{e}": part(e, "members", b"") for e in ENTITIES}
        values |= {f"labels.{e}": part(e, "labels", []) for e in LABELLED_ENTITIES}
        values |= {f"totals.{e}": part(e, "totals", None) for e in PROFILED_ENTITIES}
        return ordered(TX_REPLY, values)

    async def _undo(self, batch: Sequence[Piece], reads: dict[tuple[int, str], list[Any]]) -> None:
        """Take back a conflict's writes where its member was new (one pipeline)."""
        pipe = self.client.pipeline()
        for piece in batch:
            if reads[(piece.tx, piece.entity)][_PIECE["fresh"]] != 1:
                continue
            args = [piece.payload, *piece.profile_args, "1" if piece.profiled else "0"]
            pipe.execute_command("EVALSHA", self._shas["undo"], 1, piece.state, *args)
        await pipe.execute()

    async def record_label(
        self, entities: dict[str, str], member: str, known_at_ms: int, fraud: bool
    ) -> None:
        await self.record_labels([(entities, member, known_at_ms, fraud)])

    async def record_labels(self, labels: Sequence[tuple[dict[str, str], str, int, bool]]) -> None:
        """As RedisWindowStore's, but the label keys live on several shards: no MULTI across
        them. Each command is idempotent (ZADD of the same score, ZREM), so a failed call
        raises and its repetition (the caller's transaction is rolled back and retried)
        leaves the same windows as one success."""
        pipe = self.client.pipeline()
        label_commands(pipe, self.prefix, labels)
        await pipe.execute()

    async def was_recorded(self, scope: str, transaction_id: str) -> bool:
        return bool(await self.client.exists(seen_key(self.prefix, scope, transaction_id)))

    async def warm(self, connections: int) -> None:
        """Discover the cluster (its nodes and slots) before the first request does."""
        await self.client.initialize()

    async def ping(self) -> bool:
        return bool(await self.client.ping())
