"""Throttles and per-address socket counts shared by the nodes, in Redis.

Each operation is one Lua script, so a check and a count from two nodes never
interleave. The rules are those of :mod:`server.auth.throttle`, on the wall clock of the
calling node (the injected clock; nodes keep their clocks in sync anyway):

* a sliding window (``Throttle``): a sorted set of event times per key;
* growing delays (``Backoff``): a hash ``count``, ``last``, ``until`` per key, forgotten
  ``forget`` seconds after the last failure;
* slots (unauthenticated device sockets per address): a sorted set of holders scored by
  when their claim lapses, so a node that dies never leaves its slots taken;
* holds (one sign-in check per number at a time): a key set only if absent, with a
  lifetime, given back by its holder alone.

Keys are ``<prefix>t:<name>:<hash>``: a throttle key (a phone number, an address) is
hashed, so none is stored in Redis in clear. Every key expires with its rule's window.

Every method returns None when Redis cannot answer (now, or within ``QUICK`` seconds):
the caller then limits on its own node alone (``server.auth.throttle.Limiter``).
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from server.log import security_logger

if TYPE_CHECKING:
    from redis.asyncio import Redis

#: Seconds a request waits for Redis before it decides on its own node.
QUICK = 0.5

_WINDOW = """
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if ARGV[4] == 'hit' then
  redis.call('ZADD', KEYS[1], now, ARGV[5])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000))
  return 0
end
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then return 0 end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.ceil((tonumber(oldest[2]) + window - now) * 1000)
"""

_BACKOFF = """
local now, forget = tonumber(ARGV[1]), tonumber(ARGV[3])
local held = redis.call('HMGET', KEYS[1], 'count', 'last', 'until')
local count, untl = tonumber(held[1]) or 0, tonumber(held[3]) or 0
if count > 0 and now - tonumber(held[2]) >= forget then count, untl = 0, 0 end
if ARGV[2] == 'check' then return math.max(0, math.ceil((untl - now) * 1000)) end
count = count + 1
local free, base, cap = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local delay = 0
if count > free then delay = math.min(cap, base * 2 ^ math.min(count - free - 1, 32)) end
redis.call('HSET', KEYS[1], 'count', count, 'last', ARGV[1], 'until', tostring(now + delay))
redis.call('PEXPIRE', KEYS[1], math.ceil(forget * 1000))
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

_TAKE_SLOT = """
local now, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil(ttl * 1000))
return 1
"""


class RedisLimits:
    """The shared side of the throttles; ``available()`` says whether to try Redis."""

    def __init__(self, redis: Redis, prefix: str, available: Callable[[], bool]) -> None:
        self._redis = redis
        self._prefix = prefix
        self._available = available
        self._window = redis.register_script(_WINDOW)
        self._backoff = redis.register_script(_BACKOFF)
        self._take = redis.register_script(_TAKE_SLOT)
        self._release = redis.register_script(_RELEASE)
        self._failing = False

    def _key(self, name: str, key: str) -> str:
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        return f"{self._prefix}t:{name}:{digest}"

    async def window(
        self, name: str, key: str, now: float, *, limit: int, window: float, hit: str | None
    ) -> float | None:
        """Seconds until ``key`` may try again (``hit``: count an event named so, 0)."""
        args = [now, window, limit, "hit" if hit else "check", hit or ""]
        ms = await self._call(self._window, self._key(name, key), args)
        return None if ms is None else ms / 1000

    async def backoff(
        self,
        name: str,
        key: str,
        now: float,
        *,
        failure: bool,
        free: int,
        base: float,
        cap: float,
        forget: float,
    ) -> float | None:
        """Seconds ``key`` is locked for (``failure``: count one, 0)."""
        args = [now, "failure" if failure else "check", forget, free, base, cap]
        ms = await self._call(self._backoff, self._key(name, key), args)
        return None if ms is None else ms / 1000

    async def forget(self, name: str, key: str) -> bool:
        return await self._run(self._redis.delete(self._key(name, key))) is not None

    async def hold(self, name: str, key: str, holder: str, *, ttl: float, wait: float) -> bool:
        """Hold ``key`` alone (for at most ``ttl`` seconds), waiting up to ``wait`` seconds
        for another holder to let go; False if not held (Redis away, or waited enough)."""
        lock = self._key(f"{name}-held", key)
        deadline = asyncio.get_running_loop().time() + wait
        while True:
            taken = await self._run(self._set_absent(lock, holder, ttl))
            if taken is None or taken:  # None: Redis cannot answer
                return bool(taken)
            if asyncio.get_running_loop().time() >= deadline:
                return False
            await asyncio.sleep(0.02)

    async def _set_absent(self, key: str, value: str, ttl: float) -> bool:
        # SET NX answers None when the key exists: not to be taken for "no answer".
        return bool(await self._redis.set(key, value, nx=True, px=int(ttl * 1000)))

    async def let_go(self, name: str, key: str, holder: str) -> None:
        await self._call(self._release, self._key(f"{name}-held", key), [holder])

    async def take_slot(
        self, name: str, key: str, holder: str, now: float, *, limit: int, ttl: float
    ) -> bool | None:
        """Take one of ``limit`` slots of ``key`` for ``ttl`` seconds; False: all taken."""
        taken = await self._call(self._take, self._key(name, key), [now, ttl, limit, holder])
        return None if taken is None else bool(taken)

    async def free_slot(self, name: str, key: str, holder: str) -> None:
        await self._run(self._redis.zrem(self._key(name, key), holder))

    async def _call(self, script: Any, key: str, args: list[Any]) -> int | None:
        found = await self._run(script(keys=[key], args=[_arg(a) for a in args]))
        return None if found is None else int(found)

    async def _run(self, command: Any) -> Any:
        if not self._available():
            command.close()  # the coroutine is never awaited
            return None
        try:
            async with asyncio.timeout(QUICK):
                found = await command
        except (OSError, TimeoutError, _redis_error()) as exc:
            if not self._failing:
                self._failing = True
                security_logger.warning(
                    "shared throttles unreachable (%s): each node limits on its own",
                    type(exc).__name__,
                )
            return None
        if self._failing:
            self._failing = False
            security_logger.info("shared throttles reachable again")
        return found


def _arg(value: Any) -> str:
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else "0"
    return str(value)


def _redis_error() -> type[Exception]:
    from redis.exceptions import RedisError

    return RedisError
