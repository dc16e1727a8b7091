"""The Redis window store: every window a batch of transactions needs is read,
and each transaction recorded, in one round trip.

A batch is one EVALSHA of WINDOW_SCRIPT (the transactions in order, the batch
atomic), which also stores the previous batch's answers for retries: one
command per batch, not per transaction or per answer, keeps both redis-py's
per-command work and Redis's per-script overhead off the path. Key and payload
formats: features/window_format.py.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import hiredis
import redis.asyncio as redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import Connection
from redis.exceptions import NoScriptError, RedisClusterException, RedisError

from controls.hits import ListHit
from controls.lists import address_hex, exact_field, lengths_key, list_key
from features.definitions import (
    DAY_MS,
    ENTITIES,
    HISTORY_MS,
    LABEL_WINDOW_MS,
    LABELLED_ENTITIES,
    MAX_EVENTS,
    MAX_LABELS,
    PROFILE_DAYS,
    PROFILED_ENTITIES,
)
from features.redis_direct import DirectCommands
from features.script_layout import (
    COMMON_ARGS,
    PRESENT_KEYS,
    TX_ARGS,
    TX_KEYS,
    TX_REPLY,
    lua_offsets,
    ordered,
    position,
)
from features.window_format import (
    FINGERPRINT_LENGTH,
    NO_DAY,
    STATE_HEAD_FORMAT,
    STATE_HEAD_SIZE,
    Event,
    WindowRead,
    decision_key,
    entity_key,
    label_key,
    seen_key,
)


def _profile_slot(entity: str) -> int:
    return PROFILED_ENTITIES.index(entity) + 1 if entity in PROFILED_ENTITIES else 0


# An entity's state is one string (window_format.STATE_HEAD): its profile's cached totals
# and day entries, then its window's fixed-width records (window_format.MEMBER_DTYPES),
# latest first, each with its event time as the int64 at byte 8. STATE_LUA reads and cuts it
# with struct, without ARGV: the cluster's undo script uses it too.
STATE_LUA = (
    r"""
local HEAD_FORMAT = 'HEAD_FORMAT_'
local HEAD = HEAD_SIZE_
local DAY_ENTRY = 32
local NO_DAY = NO_DAY_

-- The head of a state ('' : none yet) as a table (the cached day, PROFILE_SUMS, the number of
-- day entries), and where the window's records start (0-based byte offset).
local function state_head(s)
  if s == '' then
    local head = {NO_DAY}
    for j = 2, HEAD / 8 do head[j] = 0 end
    return head, HEAD
  end
  local head = {struct.unpack(HEAD_FORMAT, s, 1)}
  head[#head] = nil  -- struct's next position
  return head, HEAD + DAY_ENTRY * head[#head]
end

local function ts_at(s, base, size, j)
  local ts = struct.unpack('<i8', s, base + j * size + 9)
  return ts
end

-- The index of the first of n records (at byte `base`) dated before t (n if none): records
-- are latest first, so those dated at or after t come first. Most calls end at the ends.
local function first_before(s, base, size, n, t)
  if n == 0 or ts_at(s, base, size, 0) < t then return 0 end
  if ts_at(s, base, size, n - 1) >= t then return n end
  local lo, hi = 1, n - 1  -- ts(lo - 1) >= t > ts(hi)
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if ts_at(s, base, size, mid) < t then hi = mid else lo = mid + 1 end
  end
  return lo
end

-- The index of a record (its exact bytes, dated t) among n, or nil.
local function find_member(s, base, n, payload, t)
  local size = #payload
  for j = first_before(s, base, size, n, t + 1), first_before(s, base, size, n, t) - 1 do
    if string.sub(s, base + j * size + 1, base + (j + 1) * size) == payload then return j end
  end
  return nil
end

-- The day entries with (n, cents, squares) added to `day`'s (created in its place: latest
-- day first), and how many there are.
local function add_to_day(s, ndays, day, n, cents, squares)
  local at, found = ndays, false
  for i = 0, ndays - 1 do
    local d = struct.unpack('<i8', s, HEAD + DAY_ENTRY * i + 1)
    if d <= day then at, found = i, d == day break end
  end
  local entries = string.sub(s, HEAD + 1, HEAD + DAY_ENTRY * ndays)
  local before, after = string.sub(entries, 1, DAY_ENTRY * at), nil
  if found then
    local _, n0, c0, q0 = struct.unpack('<i8i8i8i8', entries, DAY_ENTRY * at + 1)
    n, cents, squares = n0 + n, c0 + cents, q0 + squares
    after = string.sub(entries, DAY_ENTRY * (at + 1) + 1)
  else
    after = string.sub(entries, DAY_ENTRY * at + 1)
    ndays = ndays + 1
  end
  return before .. struct.pack('<i8i8i8i8', day, n, cents, squares) .. after, ndays
end
""".replace("HEAD_FORMAT_", STATE_HEAD_FORMAT)
    .replace("HEAD_SIZE_", str(STATE_HEAD_SIZE))
    .replace("NO_DAY_", str(NO_DAY))
)

# The first ARGV of every window script (this one and features/cluster_store.py's):
# script_layout.COMMON_ARGS; and the entity state's read and write.
COMMON_LUA = (
    lua_offsets("C", COMMON_ARGS)
    + STATE_LUA
    + r"""
local history = tonumber(ARGV[C_HISTORY_MS])
local max_events = tonumber(ARGV[C_MAX_EVENTS])
local keep = tonumber(ARGV[C_KEEP_EVENTS])
local label_window = tonumber(ARGV[C_LABEL_WINDOW_MS])
local max_labels = tonumber(ARGV[C_MAX_LABELS])
local ceiling = tonumber(ARGV[C_CEILING_MS])
local ceiling_day = math.floor(ceiling / DAY_MS)
local now = tonumber(ARGV[C_NOW_MS])
local horizons = {HORIZONS}
local longest = horizons[#horizons]
-- Per entity (ENTITIES order), its place among the profiled ones (0: none).
local PROFILE_SLOT = {SLOTS}

-- The profile's totals over the `longest` complete days before `day` from the day entries:
-- the counts per horizon, then cents and squares (sums of integers: exact below 2^53).
local function day_totals(s, ndays, day)
  local sums = {}
  for j = 1, #horizons + 2 do sums[j] = 0 end
  for i = 0, ndays - 1 do
    local d, n, cents, squares = struct.unpack('<i8i8i8i8', s, HEAD + DAY_ENTRY * i + 1)
    local back = day - d
    if back >= 1 and back <= longest then
      for j = 1, #horizons do
        if back <= horizons[j] then sums[j] = sums[j] + n end
      end
      sums[#horizons + 1] = sums[#horizons + 1] + cents
      sums[#horizons + 2] = sums[#horizons + 2] + squares
    end
  end
  return sums
end

-- One entity of one transaction, on its state key: the window read ([t - history, t),
-- latest first, at most max_events: one substring of the stored string, found by binary
-- search), the profile's totals for the transaction's day as text ("day n1 n7 n30 cents
-- squares"; false if the entity has none), and whether the transaction was recorded now.
-- `mode`: 'record' (the caller knows it is new), 'read' (recorded before: read only),
-- 'dedupe' (record it unless the window holds its record already: the cluster's way).
-- Recording rewrites the state whole, with its expiry: the day's entry incremented, day
-- entries beyond the longest horizon dropped once there are more than it has days, the
-- profile's cache kept for the day just read (reads on a later day recompute it; a late
-- transaction on an earlier day invalidates it); the record inserted at its time (ties:
-- the later written reads as later, as the replay orders rows), nothing kept older than
-- the history before `horizon` (min(t, ceiling)), and the count bound: the newest `keep`
-- records dated at or before the ceiling (the server's clock; everything in a replay),
-- the earliest `keep` dated after it. Records ahead never evict past ones (a burst dated
-- within the clock skew would otherwise push a card's history out); among themselves the
-- latest go first, so a burst ahead, however long, costs at most `keep` records more. A
-- state is thus bounded by construction: at most 2 * keep records and longest + 1 days.
local function entity_state(key, payload, t, day, cents, squares, mode, profiled, ttl)
  local s = redis.call('GET', key) or ''
  local head, base = state_head(s)
  local size = #payload
  local n = (#s - base) / size
  if n < 0 then n = 0 end
  local first = first_before(s, base, size, n, t)
  local last = first_before(s, base, size, n, t - history)
  if last > first + max_events then last = first + max_events end
  local members = string.sub(s, base + first * size + 1, base + last * size)
  local fresh = mode == 'record' or (mode == 'dedupe' and not find_member(s, base, n, payload, t))
  local totals, cached = false, false
  local ndays = head[#head]
  if profiled then
    cached = head[1] == day
    local sums = head
    if not cached then
      sums = day_totals(s, ndays, day)
      table.insert(sums, 1, day)
    end
    local text = {}
    for j = 1, #horizons + 3 do text[j] = string.format('%d', sums[j]) end
    totals = table.concat(text, ' ')
    if fresh and not cached then
      sums[#sums + 1] = ndays
      head = sums
    end
  end
  if not fresh then return members, totals, false end
  local entries = ''
  if profiled then
    entries, ndays = add_to_day(s, ndays, day, 1, cents, squares)
    if ndays > longest + 1 then
      local oldest = math.min(day, ceiling_day) - longest
      for i = 0, ndays - 1 do
        if struct.unpack('<i8', entries, DAY_ENTRY * i + 1) < oldest then
          entries, ndays = string.sub(entries, 1, DAY_ENTRY * i), i
          break
        end
      end
    end
    head[#head] = ndays
  end
  local at = first_before(s, base, size, n, t + 1) * size
  local records = string.sub(s, base + 1, base + at) .. payload .. string.sub(s, base + at + 1)
  n = n + 1
  local keep_from, keep_to = 0, first_before(records, 0, size, n, math.min(t, ceiling) - history)
  if keep_to > keep then
    local ahead = first_before(records, 0, size, n, ceiling + 1)  -- [0, ahead) are after it
    if ahead > keep then keep_from = ahead - keep end
    if keep_to > ahead + keep then keep_to = ahead + keep end
  end
  if keep_from > 0 or keep_to < n then
    records = string.sub(records, keep_from * size + 1, keep_to * size)
  end
  redis.call('SET', key, struct.pack(HEAD_FORMAT, unpack(head)) .. entries .. records, 'PX', ttl)
  return members, totals, true
end
""".replace("HORIZONS", ", ".join(str(d) for d in PROFILE_DAYS.values()))
    .replace("SLOTS", ", ".join(str(_profile_slot(e)) for e in ENTITIES))
    .replace("DAY_MS", str(DAY_MS))
)

# The list look-up, shared by WINDOW_SCRIPT and the cluster's list script; `now` is the
# wall clock (COMMON_ARGS' now_ms in both).
LIST_LUA = r"""
-- The first ceil(len / 4) hex digits of an address, masked to len bits (controls/lists.py).
local function masked(hex, len)
  local whole, bits = math.floor(len / 4), len % 4
  local head = string.sub(hex, 1, whole)
  if bits > 0 then
    local nibble = tonumber(string.sub(hex, whole + 1, whole + 1), 16)
    head = head .. string.format('%x', nibble - nibble % 2 ^ (4 - bits))
  end
  return head
end

-- The range lengths in use per family (the lengths hash), or nil while the list hash
-- does not exist (no lists: nothing to look up).
local function list_lengths(list_hash, lengths_hash)
  if redis.call('EXISTS', list_hash) == 0 then return nil end
  local lengths = {['4'] = {}, ['6'] = {}}
  for _, tag in ipairs(redis.call('HKEYS', lengths_hash)) do
    local family, len = string.match(tag, '^([46])/(%d+)$')
    if family then table.insert(lengths[family], len) end
  end
  return lengths
end

-- One HMGET of a transaction's exact fields and its IP address's masked networks.
local function list_hits(list_hash, lengths, exact, hex)
  local fields = {}
  for f in string.gmatch(exact, '[^\n]+') do fields[#fields + 1] = f end
  if hex ~= '' then
    local family = #hex == 8 and '4' or '6'
    for _, len in ipairs(lengths[family]) do
      fields[#fields + 1] = 'net:' .. family .. ':' .. masked(hex, tonumber(len)) .. '/' .. len
    end
  end
  local hits = {}
  if #fields == 0 then return hits end
  local values = redis.call('HMGET', list_hash, unpack(fields))
  for i, value in ipairs(values) do
    if value then
      local entity = string.match(fields[i], '^([^:]+):')
      if entity == 'net' then entity = 'ip' end
      for id, action, expires in string.gmatch(value, '(%S+) (%S+) (%S+)') do
        if expires == '0' or tonumber(expires) > now then
          hits[#hits + 1] = id
          hits[#hits + 1] = entity
          hits[#hits + 1] = action
        end
      end
    end
  end
  return hits
end
"""

# How much longer a transaction's claim (`seen`) lives than its stored answer (`d`), both
# set for the response TTL: the answer is stored within a minute of the claim (the answer
# linger, a batch's round trips), so while `d` exists `seen` does, and a transaction whose
# `seen` is new has no stored answer.
SEEN_MARGIN_MS = 60_000

# One script call for a whole batch, transactions in order (each sees the ones before it).
# It first stores the answers of earlier transactions, for retries (the first answer wins).
# KEYS: R decision keys of those answers, the list hash and the list lengths hash
#       (controls/lists.py), then script_layout.TX_KEYS per transaction.
# ARGV: COMMON_ARGS, R, the R answers (fingerprint then body), then TX_ARGS per
#       transaction: ts, a payload per entity, day, cents, squares, present ("1"/"0" per
#       window, label and profile key), fingerprint, list fields (the exact list fields of
#       its entities, controls.lists.exact_field, joined by newlines), IP address in hex
#       ("" if none).
# Trimming (window members older than the history, profile days older than the longest
# horizon) is relative to min(ts, ceiling_ms): with ceiling_ms the server's clock (live
# event time), no request, whatever its time, moves a horizon past the newest trusted
# instant; reads stay at the request's own time. The count bound (window_write) counts
# members at or before ceiling_ms apart from those after it: a member dated ahead never
# evicts a past one. A replay passes NO_CEILING: trimming at each event's own time, and
# every member counted as past, as the offline replay does. now_ms is the wall clock in both
# modes: list entries expire at a time of day, whatever the events' times.
# List look-up (only while the list hash exists): one HMGET per transaction of its exact
# fields and, for its IP address, one masked network per range length in use (the lengths
# hash is read once per batch); an entry matches unless its expiry is <= now_ms.
# Returns, per transaction, {stored_response} if it was already answered for the same
# fingerprint, {1} if its id was used in its scope with another fingerprint (a conflict:
# nothing read or recorded), else TX_REPLY: recorded (false if this call recorded the
# transaction, 2 if an earlier request with the same fingerprint had: its answer not
# stored yet, it is read, not recorded again), a window per entity (members latest first,
# back to back), label member/score pairs per labelled entity, profile totals per
# profiled entity (text: the day, then PROFILE_SUMS; false if absent), the matching list
# entries (id, entity, action, flat).
WINDOW_SCRIPT = (
    COMMON_LUA
    + LIST_LUA
    + lua_offsets("K", TX_KEYS)
    + lua_offsets("A", TX_ARGS)
    + lua_offsets("R", TX_REPLY)
    + r"""
local answers = tonumber(ARGV[C_SIZE + 1])
local seen_ttl = tonumber(ARGV[C_RESPONSE_TTL_MS]) + SEEN_MARGIN_MS
local list_hash = KEYS[answers + 1]
local lengths = list_lengths(list_hash, KEYS[answers + 2])

for i = 1, answers do
  redis.call('SET', KEYS[i], ARGV[C_SIZE + 1 + i], 'PX', ARGV[C_RESPONSE_TTL_MS], 'NX')
end
local results = {}
for tx = 0, (#KEYS - answers - 2) / K_SIZE - 1 do
  local k = answers + 2 + tx * K_SIZE
  local a = C_SIZE + 1 + answers + tx * A_SIZE
  local fingerprint = ARGV[a + A_FINGERPRINT]
  -- The claim: SET NX GET answers the fingerprint recorded before, if any (a retry, or a
  -- conflict). Only a retry reads the stored answer: `seen` outlives `d` (by a minute),
  -- so an id whose answer is stored is never claimed afresh.
  local seen = redis.call('SET', KEYS[k + K_SEEN], fingerprint, 'PX', seen_ttl, 'NX', 'GET')
  local stored = seen == fingerprint and redis.call('GET', KEYS[k + K_DECISION])
  if stored and string.sub(stored, 1, #fingerprint) == fingerprint then
    results[tx + 1] = {string.sub(stored, #fingerprint + 1)}
  elseif stored or (seen and seen ~= fingerprint) then
    results[tx + 1] = {1}
  else
    local t = tonumber(ARGV[a + A_TS])
    local present = ARGV[a + A_PRESENT]
    local fresh = not seen
    local mode = fresh and 'record' or 'read'
    local day = tonumber(ARGV[a + A_DAY])
    local cents, squares = tonumber(ARGV[a + A_CENTS]), tonumber(ARGV[a + A_SQUARES])
    local out = {}
    out[R_RECORDED] = not fresh and 2 or false  -- 2: recorded before, its answer not stored yet
    for i = 1, R_N_TOTALS do out[R_TOTALS + i] = false end
    for i = 1, K_N_STATE do
      local slot = PROFILE_SLOT[i]
      if string.sub(present, K_STATE + i, K_STATE + i) == '1' then
        -- One bulk string per window (fixed-width members back to back): cheap to reply and parse.
        local members, totals = entity_state(KEYS[k + K_STATE + i], ARGV[a + A_PAYLOAD + i], t,
                                             day, cents, squares, mode, slot > 0,
                                             slot > 0 and ARGV[C_PROFILE_TTL_MS] or ARGV[C_TTL_MS])
        out[R_MEMBERS + i] = members
        if slot > 0 then out[R_TOTALS + slot] = totals end
      else
        out[R_MEMBERS + i] = ''
      end
    end
    for i = 1, K_N_LABEL do
      if string.sub(present, K_LABEL + i, K_LABEL + i) == '1' then
        out[R_LABELS + i] = redis.call('ZREVRANGEBYSCORE', KEYS[k + K_LABEL + i], '(' .. t,
                                       t - label_window, 'WITHSCORES', 'LIMIT', 0, max_labels)
      else
        out[R_LABELS + i] = {}
      end
    end
    out[R_LIST_HITS] = lengths and list_hits(list_hash, lengths, ARGV[a + A_LIST_FIELDS],
                                             ARGV[a + A_IP_HEX]) or {}
    results[tx + 1] = out
  end
end
return results
""".replace("SEEN_MARGIN_MS", str(SEEN_MARGIN_MS))
)
# Either client: features/cluster_store.py is the window store on a cluster.
RedisClient = redis.Redis | RedisCluster
# What a store call raises when Redis fails: a cluster's client also raises
# RedisClusterException (no node reachable, a slot not covered), which is not a RedisError.
STORE_ERRORS: tuple[type[Exception], ...] = (RedisError, RedisClusterException, OSError)
# The ceiling of a replay: later than any event time, and exact as a Lua number.
NO_CEILING = 2**53
# Members kept beyond MAX_EVENTS so a transaction that arrives a little out of
# order still finds the latest MAX_EVENTS events before it. The bound applies apart to
# members at or before the server's clock and to those dated after it (window_write): a
# window holds at most twice this many.
KEEP_EVENTS = MAX_EVENTS + 64
WINDOW_TTL_MS = HISTORY_MS + 3_600_000
PROFILE_TTL_MS = (max(PROFILE_DAYS.values()) + 1) * DAY_MS + 3_600_000


class HiredisPackedConnection(Connection):
    """redis-py's asyncio connection encodes commands in Python (its sync one uses hiredis);
    a batch's scripts carry about 25 arguments each, so the packing showed in profiles.
    This one lets hiredis pack them (floats keep redis-py's own encoding)."""

    def pack_command(self, *args: Any) -> list[bytes]:
        if any(isinstance(a, float) for a in args):
            return super().pack_command(*args)
        if isinstance(args[0], str):
            args = (*args[0].encode().split(), *args[1:])
        return [hiredis.pack_command(args)]


def common_args(response_ttl_ms: int, replay: bool, now_ms: int) -> list[int]:
    """COMMON_ARGS' values: live event time trims at this process's clock (`now_ms`), a
    replay at each event's own time."""
    return ordered(
        COMMON_ARGS,
        {
            "history_ms": HISTORY_MS,
            "max_events": MAX_EVENTS,
            "keep_events": KEEP_EVENTS,
            "ttl_ms": WINDOW_TTL_MS,
            "label_window_ms": LABEL_WINDOW_MS,
            "max_labels": MAX_LABELS,
            "response_ttl_ms": response_ttl_ms,
            "profile_ttl_ms": PROFILE_TTL_MS,
            "ceiling_ms": NO_CEILING if replay else now_ms,
            "now_ms": now_ms,
        },
    )


# A key that never exists: the slot of an entity the transaction does not have.
def _none_key(prefix: str) -> str:
    return f"{prefix}:none"


_KEY_OF = {"state": entity_key, "label": label_key}


def transaction_keys(prefix: str, event: Event) -> list[str]:
    """One transaction's TX_KEYS: each entity's window, label and profile key (the none
    key for an entity it does not have), then its seen and decision keys."""
    keys = {}
    for name in PRESENT_KEYS:
        kind, entity = name.split(".")
        value = event.entity_value(entity)
        keys[name] = _KEY_OF[kind](prefix, entity, value) if value else _none_key(prefix)
    keys["seen"] = seen_key(prefix, event.scope, event.transaction_id)
    keys["decision"] = decision_key(prefix, event.scope, event.transaction_id)
    return ordered(TX_KEYS, keys)


def list_fields(event: Event) -> str:
    """The exact list fields of the event's entities (controls.lists.exact_field), one a line."""
    return "\n".join(
        exact_field(entity, value) for entity in ENTITIES if (value := event.entity_value(entity))
    )


def transaction_args(event: Event) -> list[str | bytes | int]:
    """One transaction's TX_ARGS."""
    payloads = event.payloads()
    day, cents, squares = event.profile_args()
    present = "".join(
        "1" if event.entity_value(name.split(".")[1]) else "0" for name in PRESENT_KEYS
    )
    args: dict[str, str | bytes | int] = {
        "ts": event.ts,
        **{f"payload.{e}": payloads[e] for e in ENTITIES},
        "day": day,
        "cents": cents,
        "squares": squares,
        "present": present,
        "fingerprint": fingerprint(event),
        "list_fields": list_fields(event),
        "ip_hex": address_hex(event.ip),
    }
    return ordered(TX_ARGS, args)


def stored_answer(prefix: str, event: Event, body: bytes) -> tuple[str, bytes]:
    """What is stored for retries of a transaction: its decision key, and the value (the
    request's fingerprint, then the answer as sent)."""
    return decision_key(prefix, event.scope, event.transaction_id), fingerprint(
        event
    ).encode() + body


_REPLY = {name: position(TX_REPLY, name) for name in TX_REPLY}


def parse_read(raw: object) -> WindowRead:
    """One transaction's reply (TX_REPLY, a stored answer or a conflict) as a WindowRead."""
    assert isinstance(raw, list)
    if len(raw) == 1:
        if isinstance(raw[0], int):
            return WindowRead(conflict=True)
        return WindowRead(stored_response=bytes(raw[0]))
    members = {e: bytes(raw[_REPLY[f"members.{e}"]]) for e in ENTITIES}
    labels: dict[str, list[float]] = {}
    for entity in LABELLED_ENTITIES:
        pairs = raw[_REPLY[f"labels.{entity}"]]
        labels[entity] = [float(pairs[k + 1]) for k in range(0, len(pairs), 2)]
    profiles = {e: raw[_REPLY[f"totals.{e}"]] for e in PROFILED_ENTITIES}
    hits = raw[_REPLY["list_hits"]]
    lists = tuple(
        ListHit(hits[i].decode(), hits[i + 1].decode(), hits[i + 2].decode())
        for i in range(0, len(hits), 3)
    )
    return WindowRead(
        members=members,
        label_scores=labels,
        profiles=profiles,
        lists=lists,
        answer_pending=raw[_REPLY["recorded"]] == 2,
    )


def label_commands(
    pipe: Any, prefix: str, labels: Sequence[tuple[dict[str, str], str, int, bool]]
) -> None:
    """The commands of record_labels, queued on a pipeline (a MULTI one on a single node;
    on a cluster the keys live on several shards, and each command is idempotent)."""
    for entities, member, known_at_ms, fraud in labels:
        for entity in LABELLED_ENTITIES:
            value = entities.get(entity)
            if not value:
                continue
            key = label_key(prefix, entity, value)
            if fraud:
                pipe.zadd(key, {member: known_at_ms})
                pipe.zremrangebyrank(key, 0, -(MAX_LABELS + 1))
                pipe.pexpire(key, LABEL_WINDOW_MS + WINDOW_TTL_MS)
            else:
                pipe.zrem(key, member)


class RedisWindowStore:
    """The WindowStore (features/store.py) on one Redis node. `replay`: trim at each event's
    own time (replaying a history); otherwise (live event time) trimming never goes past
    this process's clock, whatever a request's time."""

    def __init__(
        self, client: redis.Redis, prefix: str, response_ttl_ms: int, replay: bool = False
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.response_ttl_ms = response_ttl_ms
        self.replay = replay
        self._sha: str | None = None
        # The script calls, on connections of the store's own (features/redis_direct.py).
        self._commands = (
            DirectCommands(client.connection_pool) if isinstance(client, redis.Redis) else None
        )

    async def load_script(self) -> None:
        self._sha = await self.client.script_load(WINDOW_SCRIPT)

    def stored_answer(self, event: Event, body: bytes) -> tuple[str, bytes]:
        return stored_answer(self.prefix, event, body)

    async def read_and_record(
        self, events: Sequence[Event], responses: Sequence[tuple[str, bytes]] = ()
    ) -> list[WindowRead]:
        """One round trip: store earlier responses (`stored_answer`'s pairs), then read and
        record every event."""
        if self._sha is None:
            await self.load_script()
        try:
            raw = await self._execute(events, responses)
        except NoScriptError:  # Redis restarted or its script cache was flushed
            await self.load_script()
            raw = await self._execute(events, responses)
        return [parse_read(r) for r in raw]

    async def _execute(
        self, events: Sequence[Event], responses: Sequence[tuple[str, bytes]]
    ) -> list[object]:
        now_ms = time.time_ns() // 1_000_000
        keys: list[str] = [key for key, _ in responses]
        keys += [list_key(self.prefix), lengths_key(self.prefix)]
        args: list[str | bytes | int] = [
            *common_args(self.response_ttl_ms, self.replay, now_ms),
            len(responses),
            *(value for _, value in responses),
        ]
        for event in events:
            keys += transaction_keys(self.prefix, event)
            args += transaction_args(event)
        assert self._commands is not None
        assert self._sha is not None
        results = await self._commands.execute("EVALSHA", self._sha, len(keys), *keys, *args)
        return list(results)

    async def save_responses(self, responses: Sequence[tuple[str, bytes]]) -> None:
        """Store answers for retries (the first answer wins), in one command."""
        await self.read_and_record((), responses)

    async def record_label(
        self, entities: dict[str, str], member: str, known_at_ms: int, fraud: bool
    ) -> None:
        """Confirmed fraud joins the label window of each of the transaction's entities (score:
        when it became known); a legitimate verdict takes it out again. One MULTI round trip."""
        await self.record_labels([(entities, member, known_at_ms, fraud)])

    async def record_labels(self, labels: Sequence[tuple[dict[str, str], str, int, bool]]) -> None:
        """record_label for several transactions (entities, label member, known_at_ms, fraud)
        in one MULTI round trip: all of them apply, or none."""
        pipe = self.client.pipeline(transaction=True)
        label_commands(pipe, self.prefix, labels)
        await pipe.execute()

    async def was_recorded(self, scope: str, transaction_id: str) -> bool:
        """Whether this transaction was scored in this scope (within the retry window),
        stored or not."""
        return bool(await self.client.exists(seen_key(self.prefix, scope, transaction_id)))

    async def warm(self, connections: int) -> None:
        """Open `connections` connections for the script calls."""
        assert self._commands is not None
        await self._commands.open(connections)

    async def ping(self) -> bool:
        return bool(await self.client.ping())


def fingerprint(event: Event) -> str:
    """The event's fingerprint at its fixed width (the script compares prefixes of that
    width); an event made without one (tests, tools) has the empty request's."""
    fingerprint = event.fingerprint or "0" * FINGERPRINT_LENGTH
    if len(fingerprint) != FINGERPRINT_LENGTH:
        raise ValueError(f"a fingerprint has {FINGERPRINT_LENGTH} characters: {fingerprint!r}")
    return fingerprint
