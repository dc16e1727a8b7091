"""Per-key rate limits shared by every API process, without a Redis call per request.

Each key has one token bucket in Redis (`{prefix}:rl:{key_id}`: `burst` tokens, refilled at
`rate` a second). A process does not ask Redis per request: it admits from a local
allowance, and every sync interval (100 ms) reports what it admitted since the last sync
to the shared bucket, which refills, subtracts and returns what is left; that becomes the
new allowance, less what was admitted while the report was out.

The approximation: between two syncs every process may spend the whole remaining shared
budget, so P processes can together admit up to P times it within one interval (and a
process meeting a key for the first time admits up to `burst` before its first sync). What
they overspend is debt in the shared bucket, which refuses everyone until the refill has
paid it back: over any longer period the total stays at the configured rate. Without
Redis, each process refills its allowance alone at the full rate (fail open, P times the
rate in all).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass

from redis.exceptions import NoScriptError

from features.redis_store import STORE_ERRORS, RedisClient

log = logging.getLogger(__name__)
IDLE_S = 10.0  # a key unused this long is forgotten by the process (its bucket expires)

# KEYS[1]: the bucket; ARGV: admitted since the last report, rate per second, burst, TTL ms.
# Redis's own clock, so every process's refill agrees. Returns the tokens left (a string:
# Lua numbers would come back as integers), negative while in debt.
SYNC_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local consumed, rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000) - consumed
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return tostring(tokens)
"""


def bucket_key(prefix: str, key_id: str) -> str:
    return f"{prefix}:rl:{key_id}"


@dataclass(slots=True)
class _Allowance:
    tokens: float  # what this process may still admit before the next sync
    pending: int = 0  # admitted since the last report
    used_at: float = 0.0


class LocalBuckets:
    """The per-process side (pure: no I/O). `admit` is on every request's path."""

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.keys: dict[str, _Allowance] = {}

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def admit(self, key_id: str) -> int | None:
        """None if the request may go on, else the seconds to wait (for Retry-After)."""
        if self.rate <= 0:
            return None
        allowance = self.keys.get(key_id)
        if allowance is None:
            allowance = self.keys[key_id] = _Allowance(self.burst)
        allowance.used_at = self.clock()
        if allowance.tokens >= 1:
            allowance.tokens -= 1
            allowance.pending += 1
            return None
        return max(1, math.ceil((1 - allowance.tokens) / self.rate))

    def report(self) -> dict[str, int]:
        """What each key admitted since the last report, for every key in use; keys idle
        for IDLE_S are forgotten."""
        now = self.clock()
        out = {}
        for key_id, allowance in list(self.keys.items()):
            if allowance.pending == 0 and now - allowance.used_at > IDLE_S:
                del self.keys[key_id]
                continue
            out[key_id] = allowance.pending
            allowance.pending = 0
        return out

    def synced(self, key_id: str, shared_tokens: float) -> None:
        """The shared bucket's tokens after the last report: the new allowance, less what
        was admitted since that report left."""
        allowance = self.keys.get(key_id)
        if allowance is not None:
            allowance.tokens = shared_tokens - allowance.pending

    def unsynced(self, reported: dict[str, int], interval_s: float) -> None:
        """Redis did not answer: the report is kept for the next sync, and each allowance
        refills locally for the interval."""
        for key_id, admitted in reported.items():
            allowance = self.keys.get(key_id)
            if allowance is not None:
                allowance.pending += admitted
                allowance.tokens = min(self.burst, allowance.tokens + interval_s * self.rate)


class RateLimiter:
    """LocalBuckets kept in step with the shared buckets in Redis by a background task."""

    def __init__(
        self,
        client: RedisClient,
        prefix: str,
        rate: float,
        burst: float,
        sync_s: float = 0.1,
    ) -> None:
        self.buckets = LocalBuckets(rate, burst)
        self.client = client
        self.prefix = prefix
        self.sync_s = sync_s
        self.ttl_ms = int((burst / rate if rate > 0 else 0) * 1000) + int(IDLE_S * 1000)
        self._script = client.register_script(SYNC_SCRIPT)
        self._task: asyncio.Task[None] | None = None
        self._failing = False  # logged once per outage, not every interval

    def admit(self, key_id: str) -> int | None:
        return self.buckets.admit(key_id)

    def start(self) -> None:
        if self.buckets.enabled:
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def sync(self) -> None:
        reported = self.buckets.report()
        if not reported:
            return
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for key_id, admitted in reported.items():
                    args = [admitted, self.buckets.rate, self.buckets.burst, self.ttl_ms]
                    # A plain EVALSHA (a cluster pipeline refuses its evalsha(); a node
                    # without the script fails it with NoScriptError, handled below).
                    key = bucket_key(self.prefix, key_id)
                    pipe.execute_command("EVALSHA", self._script.sha, 1, key, *args)
                left = await pipe.execute()
        except STORE_ERRORS as exc:
            if isinstance(exc, NoScriptError):
                # A restarted Redis, a promoted replica: loaded for the next sync.
                with suppress(*STORE_ERRORS):
                    await self.client.script_load(SYNC_SCRIPT)
            if not self._failing:
                log.warning("rate limit sync failed, limiting per process: %r", exc)
            self._failing = True
            self.buckets.unsynced(reported, self.sync_s)
            return
        if self._failing:
            log.warning("rate limit sync works again: limits are shared again")
        self._failing = False
        for key_id, tokens in zip(reported, left, strict=True):
            self.buckets.synced(key_id, float(tokens))

    async def _run(self) -> None:
        with suppress(*STORE_ERRORS):  # else loaded on NoScriptError
            await self.client.script_load(SYNC_SCRIPT)
        while True:
            await asyncio.sleep(self.sync_s)
            await self.sync()
