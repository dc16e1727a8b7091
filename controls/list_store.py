"""The lists in Redis: what the window script reads (formats in controls/lists.py).

An entry is added or taken out by one script call (atomic, idempotent for the entry
itself); the whole set is rebuilt from PostgreSQL in one MULTI, watched, so a change
published meanwhile makes the rebuild give way instead of erasing it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from redis.exceptions import WatchError

from controls.lists import (
    CHECKSUM_MODULUS,
    ListEntry,
    checksum_key,
    lengths_key,
    list_key,
    parse_entries,
    redis_entry,
)
from features.redis_store import RedisClient

# KEYS: the list hash, the lengths hash, the checksum.
# ARGV: field, id, action, expires_ms, length tag ("" for an exact value), checksum share.
# An entry already there is left alone; the checksum only changes where it exists (a
# missing one means Redis lost the lists: the next sync rebuilds them at once).
PUT_SCRIPT = f"""
local current = redis.call('HGET', KEYS[1], ARGV[1]) or ''
for id in string.gmatch(current, '(%S+) %S+ %S+') do
  if id == ARGV[2] then return 0 end
end
local entry = ARGV[2] .. ' ' .. ARGV[3] .. ' ' .. ARGV[4]
redis.call('HSET', KEYS[1], ARGV[1], current == '' and entry or current .. ' ' .. entry)
if ARGV[5] ~= '' then redis.call('HINCRBY', KEYS[2], ARGV[5], 1) end
local sum = redis.call('GET', KEYS[3])
if sum then
  redis.call('SET', KEYS[3], string.format('%d', (tonumber(sum) + tonumber(ARGV[6])) % {CHECKSUM_MODULUS}))
end
return 1
"""
# KEYS: as PUT_SCRIPT's. ARGV: field, id, length tag, checksum share ("" for the clean-up
# of an expired entry: the checksum counts entries until they are deleted).
REMOVE_SCRIPT = f"""
local current = redis.call('HGET', KEYS[1], ARGV[1])
local kept, found = {{}}, false
if current then
  for id, action, expires in string.gmatch(current, '(%S+) (%S+) (%S+)') do
    if id == ARGV[2] then found = true else kept[#kept + 1] = id .. ' ' .. action .. ' ' .. expires end
  end
end
if found then
  if #kept == 0 then redis.call('HDEL', KEYS[1], ARGV[1])
  else redis.call('HSET', KEYS[1], ARGV[1], table.concat(kept, ' ')) end
  if ARGV[3] ~= '' and redis.call('HINCRBY', KEYS[2], ARGV[3], -1) <= 0 then
    redis.call('HDEL', KEYS[2], ARGV[3])
  end
end
local sum = ARGV[4] ~= '' and redis.call('GET', KEYS[3])
if sum then
  redis.call('SET', KEYS[3], string.format('%d', (tonumber(sum) - tonumber(ARGV[4])) % {CHECKSUM_MODULUS}))
end
return found and 1 or 0
"""


class RedisListStore:
    def __init__(self, client: RedisClient, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self.keys = [list_key(prefix), lengths_key(prefix), checksum_key(prefix)]
        self._put = client.register_script(PUT_SCRIPT)
        self._remove = client.register_script(REMOVE_SCRIPT)

    async def publish(self, entry: ListEntry) -> None:
        """Make a new entry visible to every process's next batch (before its commit)."""
        listed = entry.listed
        args: list[str | int] = [listed.field, entry.id, entry.action, entry.expires]
        await self._put(keys=self.keys, args=[*args, listed.length_tag, entry.checksum])

    async def unpublish(self, entry: ListEntry) -> None:
        """Take a deleted entry out (before the deletion's commit)."""
        listed = entry.listed
        args: list[str | int] = [listed.field, entry.id, listed.length_tag, entry.checksum]
        await self._remove(keys=self.keys, args=args)

    async def has_entries(self) -> bool:
        """Whether the list hash exists (a publish writes it, with or without a checksum)."""
        return bool(await self.client.exists(self.keys[0]))

    async def checksum(self) -> int | None:
        """The checksum of what Redis was given; None if Redis lost the lists."""
        value = await self.client.get(self.keys[2])
        return None if value is None else int(value)

    async def replace(
        self, expected: int | None, entries: Sequence[ListEntry], checksum: int
    ) -> bool:
        """Replace every list key with `entries` and `checksum` in one MULTI, unless the
        checksum is no longer `expected` (a change was published meanwhile): False then."""
        fields: dict[str, list[str]] = {}
        lengths: dict[str, int] = {}
        for entry in entries:
            listed = entry.listed
            fields.setdefault(listed.field, []).append(
                redis_entry(entry.id, entry.action, entry.expires)
            )
            if listed.length_tag:
                lengths[listed.length_tag] = lengths.get(listed.length_tag, 0) + 1
        try:
            async with self.client.pipeline(transaction=True) as pipe:
                # Every published change writes the hash; with a checksum, that too.
                await pipe.watch(self.keys[0], self.keys[2])
                now = await pipe.get(self.keys[2])
                if (None if now is None else int(now)) != expected:
                    return False
                pipe.multi()
                pipe.delete(self.keys[0], self.keys[1])
                if fields:
                    pipe.hset(self.keys[0], mapping={f: " ".join(e) for f, e in fields.items()})
                if lengths:
                    pipe.hset(self.keys[1], mapping=lengths)  # type: ignore[arg-type]
                pipe.set(self.keys[2], checksum)
                await pipe.execute()
        except WatchError:
            return False
        return True

    async def purge_expired(self, now_ms: int | None = None) -> int:
        """Take out the entries whose expiry has passed (the script ignores them already);
        returns how many. One HSCAN pass over the list hash."""
        now_ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
        removed = 0
        async for field, value in self.client.hscan_iter(self.keys[0], count=500):
            name = field.decode()
            tag = _length_tag(name)
            for entry_id, _, expires in parse_entries(value):
                if expires and expires <= now_ms:
                    removed += await self._remove(keys=self.keys, args=[name, entry_id, tag, ""])
        return removed


def _length_tag(field: str) -> str:
    """The lengths entry of a range field ("net:4:0a/8" -> "4/8"); "" for an exact one."""
    if not field.startswith("net:"):
        return ""
    family, _, rest = field[4:].partition(":")
    return f"{family}/{rest.rpartition('/')[2]}"
