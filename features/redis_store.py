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

from controls.hits import LIST_ENTITIES, ListHit
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
    Event,
    WindowRead,
    decision_key,
    label_key,
    profile_key,
    seen_key,
    window_key,
)

# A window is one string of fixed-width records (window_format.MEMBER_DTYPES), latest
# first: its event time is the int64 at byte 8 of each record.
WINDOW_LUA = r"""
local function ts_at(blob, size, j)
  local ts = struct.unpack('<i8', blob, j * size + 9)
  return ts
end

-- The index of the first of a window's n records dated before t (n if none): records are
-- latest first, so those dated at or after t come first. Most calls end at the ends.
local function first_before(blob, size, n, t)
  if n == 0 or ts_at(blob, size, 0) < t then return 0 end
  if ts_at(blob, size, n - 1) >= t then return n end
  local lo, hi = 1, n - 1  -- ts(lo - 1) >= t > ts(hi)
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if ts_at(blob, size, mid) < t then hi = mid else lo = mid + 1 end
  end
  return lo
end

-- The index of a record (its exact bytes, dated t) in a window, or nil.
local function find_member(blob, payload, t)
  local size = #payload
  local n = #blob / size
  for j = first_before(blob, size, n, t + 1), first_before(blob, size, n, t) - 1 do
    if string.sub(blob, j * size + 1, (j + 1) * size) == payload then return j end
  end
  return nil
end
"""

# The first ARGV of every window script (this one and features/cluster_store.py's):
# script_layout.COMMON_ARGS; and the window and profile functions.
COMMON_LUA = (
    lua_offsets("C", COMMON_ARGS)
    + WINDOW_LUA
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

-- A window's read: its members dated in [t - history, t), latest first, at most max_events,
-- as one string (one substring of the stored one: no per-member work).
local function window_read(blob, size, t)
  local n = #blob / size
  local first = first_before(blob, size, n, t)
  local last = first_before(blob, size, n, t - history)
  if last > first + max_events then last = first + max_events end
  return string.sub(blob, first * size + 1, last * size)
end

-- A member added to a window (the stored string `blob`, written back whole with its expiry):
-- before the members dated at or before it (ties: the later written reads as the later),
-- and the bounds kept in the same rewrite, by time (nothing older than the history before
-- `horizon`, min(t, ceiling)) and by count: the newest `keep` members dated at or before
-- the ceiling (the server's clock; everything in a replay), and the earliest `keep` dated
-- after it. Members ahead never evict past ones (a burst dated within the clock skew would
-- otherwise push a card's history out, and its reads, at the current time, never see them);
-- among themselves the latest go first (the earliest become history next), so a burst
-- ahead, however long, costs at most `keep` members more. A window is thus at most
-- 2 * keep records by construction. Most writes check two times and cut nothing.
local function window_write(key, blob, payload, t, horizon)
  local size = #payload
  local at = first_before(blob, size, #blob / size, t + 1) * size
  blob = string.sub(blob, 1, at) .. payload .. string.sub(blob, at + 1)
  local n = #blob / size
  local first, last = 0, first_before(blob, size, n, horizon - history)
  if last > keep then
    local ahead = first_before(blob, size, n, ceiling + 1)  -- members [0, ahead) are after it
    if ahead > keep then first = ahead - keep end
    if last > ahead + keep then last = ahead + keep end
  end
  if first > 0 or last < n then blob = string.sub(blob, first * size + 1, last * size) end
  redis.call('SET', key, blob, 'PX', ARGV[C_TTL_MS])
end

-- The totals of the `longest` complete days before `day` as text, "day n1 n7 n30 cents
-- squares" (counts per horizon): field 'c' caches them for the latest day read, so most
-- reads are one HGET; the first read of a day sums that day's predecessors, drops days
-- beyond the longest horizon (counted back from `day`, never from a day after the
-- ceiling's) and renews the expiry. A new transaction then adds to its own day's totals.
-- Sums of integers stay exact below 2^53.
local function profile(key, day, fresh, cents, squares, ttl)
  local cached = redis.call('HGET', key, 'c')
  local head = day .. ' '
  local totals = cached and string.sub(cached, 1, #head) == head and cached
  if not totals then
    local fields = {}
    for i = 1, longest do
      local d = day - i
      fields[3 * i - 2] = d .. 'n'
      fields[3 * i - 1] = d .. 'a'
      fields[3 * i] = d .. 'q'
    end
    local values = redis.call('HMGET', key, unpack(fields))
    local sums = {}
    for j = 1, #horizons + 2 do sums[j] = 0 end
    for i = 1, longest do
      local n = tonumber(values[3 * i - 2]) or 0
      for j = 1, #horizons do
        if i <= horizons[j] then sums[j] = sums[j] + n end
      end
      sums[#horizons + 1] = sums[#horizons + 1] + (tonumber(values[3 * i - 1]) or 0)
      sums[#horizons + 2] = sums[#horizons + 2] + (tonumber(values[3 * i]) or 0)
    end
    local text = {string.format('%d', day)}
    for j = 1, #sums do text[j + 1] = string.format('%d', sums[j]) end
    totals = table.concat(text, ' ')
    if fresh then
      redis.call('HSET', key, 'c', totals)
      if redis.call('HLEN', key) > 3 * (longest + 2) then
        local oldest = math.min(day, ceiling_day) - longest
        for _, f in ipairs(redis.call('HKEYS', key)) do
          local d = tonumber(string.match(f, '^(-?%d+)[naq]$'))
          if d and d < oldest then redis.call('HDEL', key, f) end
        end
      end
      redis.call('PEXPIRE', key, ttl)
    end
  end
  if fresh then
    redis.call('HINCRBY', key, day .. 'n', 1)
    redis.call('HINCRBY', key, day .. 'a', cents)
    redis.call('HINCRBY', key, day .. 'q', squares)
  end
  return totals
end
""".replace("HORIZONS", ", ".join(str(d) for d in PROFILE_DAYS.values())).replace(
        "DAY_MS", str(DAY_MS)
    )
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
  local stored = redis.call('GET', KEYS[k + K_DECISION])
  -- Until its answer is stored, the seen key's fingerprint tells a retry from a conflict;
  -- claimed in the same command where there is none (SET NX GET: the old value, if any).
  local seen = not stored and redis.call('SET', KEYS[k + K_SEEN], fingerprint,
                                         'PX', ARGV[C_RESPONSE_TTL_MS], 'NX', 'GET')
  if stored and string.sub(stored, 1, #fingerprint) == fingerprint then
    results[tx + 1] = {string.sub(stored, #fingerprint + 1)}
  elseif stored or (seen and seen ~= fingerprint) then
    results[tx + 1] = {1}
  else
    local t = tonumber(ARGV[a + A_TS])
    local horizon = math.min(t, ceiling)
    local present = ARGV[a + A_PRESENT]
    local fresh = not seen
    local out = {}
    out[R_RECORDED] = not fresh and 2 or false  -- 2: recorded before, its answer not stored yet
    for i = 1, K_N_WINDOW do
      local key = KEYS[k + K_WINDOW + i]
      if string.sub(present, K_WINDOW + i, K_WINDOW + i) == '1' then
        -- One bulk string per window (fixed-width members back to back): cheap to reply and parse.
        local payload = ARGV[a + A_PAYLOAD + i]
        local blob = redis.call('GET', key) or ''
        out[R_MEMBERS + i] = window_read(blob, #payload, t)
        if fresh then window_write(key, blob, payload, t, horizon) end
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
    local day = tonumber(ARGV[a + A_DAY])
    local cents, squares = tonumber(ARGV[a + A_CENTS]), tonumber(ARGV[a + A_SQUARES])
    for i = 1, K_N_PROFILE do
      if string.sub(present, K_PROFILE + i, K_PROFILE + i) == '1' then
        out[R_TOTALS + i] = profile(KEYS[k + K_PROFILE + i], day, fresh, cents, squares,
                                    ARGV[C_PROFILE_TTL_MS])
      else
        out[R_TOTALS + i] = false
      end
    end
    out[R_LIST_HITS] = lengths and list_hits(list_hash, lengths, ARGV[a + A_LIST_FIELDS],
                                             ARGV[a + A_IP_HEX]) or {}
    results[tx + 1] = out
  end
end
return results
"""
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


_KEY_OF = {"window": window_key, "label": label_key, "profile": profile_key}


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
        exact_field(entity, value)
        for entity in LIST_ENTITIES
        if (value := event.entity_value(entity))
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
