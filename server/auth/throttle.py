"""Throttling of failures and sends.

Two shapes, both on the injected clock and both bounded in memory:

* :class:`Throttle` — at most ``limit`` events per key within a sliding ``window`` of
  seconds. Used for code checks and code sends (per number and per IP), pairing codes, and
  as the per-address part of sign-in.
* :class:`Backoff` — per key, growing delays: the first ``free`` failures cost nothing,
  each further one locks the key for ``base · 2^k`` seconds (capped at ``cap``); a success
  resets it, and a key quiet for ``forget`` seconds starts over. Used per account for
  sign-in, so a typo costs nothing and a guesser gets ~100 tries a day.

:class:`LoginThrottle` puts the two together for sign-in and password re-checks: keys
starting with ``ip:`` count against the (high) per-address window, every other key (an
account) against its own backoff. One person's wrong tries on one account therefore never
lock out other accounts behind the same address, unless they pass the per-address limit
sized for a whole office.

Keys are strings such as ``"ip:203.0.113.9"`` or ``"acct:+15550100001"``. Every refusal
is a :class:`~server.errors.RateLimited` carrying the real wait, in whole seconds, which
the API sends as ``Retry-After``.

Handlers call a :class:`Limiter` (async), which wraps one of these. On one node it is
just that; with several nodes (``FERRY_REDIS_URL``) every failure is also counted in
Redis (``server/nodes/limits.py``, same rules), which decides, so a guesser spreading
tries over the nodes meets the same limits. While Redis cannot answer, the node's own
counts decide: the limits then hold per node, never not at all. :class:`HandshakeSlots`
counts device sockets that have not authenticated yet, per address, the same way.
"""

from __future__ import annotations

import asyncio
import math
import secrets
import weakref
from collections import Counter, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from server.clock import Clock
from server.errors import RateLimited

if TYPE_CHECKING:
    from server.nodes.limits import RedisLimits

_MAX_KEYS = 100_000
#: Seconds one check may hold its key across the nodes (a dead node's hold lapses), and
#: the longest another waits for it.
HOLD = 10.0


def _evict_if_full(table: dict[str, Any]) -> None:
    """Bounded memory under a flood of distinct keys: forget the oldest entries."""
    if len(table) >= _MAX_KEYS:
        for old in list(table)[: _MAX_KEYS // 10]:
            del table[old]


def _wait(until: float, now: float) -> int:
    """Whole seconds from ``now`` to ``until``, rounded up; 0 when already past."""
    return max(0, math.ceil(until - now))


class Throttle:
    """At most ``limit`` events per key within a sliding ``window`` of seconds."""

    def __init__(self, clock: Clock, *, limit: int, window: float) -> None:
        self._clock = clock
        self.limit = limit
        self.window = window
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, key: str) -> int:
        """Seconds until ``key`` may try again; 0 when it may try now."""
        q = self._prune(key)
        if q is None or len(q) < self.limit:
            return 0
        # The oldest event in the window leaves it at q[0] + window; one more is allowed then.
        return max(1, _wait(q[0] + self.window, self._clock.monotonic()))

    def check(self, *keys: str) -> None:
        """Raise :class:`RateLimited` (with the longest wait) if any key is over its limit."""
        wait = max((self.retry_after(k) for k in keys), default=0)
        if wait:
            raise RateLimited(wait)

    def hit(self, *keys: str) -> None:
        """Count one event for every key."""
        for key in keys:
            self.failure(key)

    def failure(self, key: str) -> None:
        _evict_if_full(self._failures)
        self._failures.setdefault(key, deque()).append(self._clock.monotonic())

    def reset(self, key: str) -> None:
        self._failures.pop(key, None)

    def _prune(self, key: str) -> deque[float] | None:
        q = self._failures.get(key)
        if q is None:
            return None
        horizon = self._clock.monotonic() - self.window
        while q and q[0] <= horizon:
            q.popleft()
        if not q:
            del self._failures[key]
            return None
        return q


@dataclass
class _Strikes:
    count: int
    last: float  # monotonic time of the last failure
    locked_until: float


class Backoff:
    """Per key: ``free`` failures cost nothing; the n-th after them locks the key for
    ``min(cap, base · 2^(n-1))`` seconds. :meth:`reset` (a success) clears the key."""

    def __init__(
        self,
        clock: Clock,
        *,
        free: int = 5,
        base: float = 15,
        cap: float = 15 * 60,
        forget: float = 24 * 60 * 60,
    ) -> None:
        self._clock = clock
        self.free = free
        self.base = base
        self.cap = cap
        self.forget = forget
        self._keys: dict[str, _Strikes] = {}

    def delay(self, count: int) -> float:
        """The lock that the ``count``-th failure in a row starts, in seconds."""
        extra = count - self.free
        if extra <= 0:
            return 0.0
        # 2**extra grows without bound; past the cap the exponent no longer matters.
        return min(self.cap, self.base * 2 ** min(extra - 1, 32))

    def retry_after(self, key: str) -> int:
        """Seconds until ``key`` may try again; 0 when it may try now."""
        strikes = self._current(key)
        if strikes is None:
            return 0
        return _wait(strikes.locked_until, self._clock.monotonic())

    def failure(self, key: str) -> None:
        now = self._clock.monotonic()
        strikes = self._current(key)
        if strikes is None:
            _evict_if_full(self._keys)
            strikes = self._keys[key] = _Strikes(0, now, now)
        strikes.count += 1
        strikes.last = now
        strikes.locked_until = now + self.delay(strikes.count)

    def reset(self, key: str) -> None:
        self._keys.pop(key, None)

    def _current(self, key: str) -> _Strikes | None:
        strikes = self._keys.get(key)
        if strikes is not None and self._clock.monotonic() - strikes.last >= self.forget:
            del self._keys[key]
            return None
        return strikes


class LoginThrottle:
    """Sign-in failures: ``ip:`` keys per address (sliding window), others per account
    (growing delays). Same verbs as :class:`Throttle`, so callers pass all their keys."""

    ADDRESS_PREFIX = "ip:"

    def __init__(self, per_address: Throttle, per_account: Backoff) -> None:
        self.per_address = per_address
        self.per_account = per_account

    @classmethod
    def build(cls, clock: Clock) -> LoginThrottle:
        # 100 failures in 15 minutes from one address: a household or an office behind one
        # NAT is not locked out by one person's wrong tries.
        return cls(Throttle(clock, limit=100, window=15 * 60), Backoff(clock))

    def _of(self, key: str) -> Throttle | Backoff:
        return self.per_address if key.startswith(self.ADDRESS_PREFIX) else self.per_account

    def rule(self, key: str) -> Throttle | Backoff:
        """The part that counts ``key``."""
        return self._of(key)

    def retry_after(self, key: str) -> int:
        return self._of(key).retry_after(key)

    def check(self, *keys: str) -> None:
        """Raise :class:`RateLimited` with the longest wait if any key must wait."""
        wait = max((self.retry_after(k) for k in keys), default=0)
        if wait:
            raise RateLimited(wait, "Too many sign-in attempts; try again later.")

    def hit(self, *keys: str) -> None:
        """Count one failure for every key."""
        for key in keys:
            self._of(key).failure(key)

    def reset(self, key: str) -> None:
        self._of(key).reset(key)


class Limiter:
    """The throttle handlers call: one of the above, shared by the nodes when ``shared``
    is given (see the module docstring). ``name`` tells the throttles apart in Redis."""

    def __init__(
        self,
        local: Throttle | Backoff | LoginThrottle,
        *,
        name: str,
        clock: Clock,
        shared: RedisLimits | None = None,
        message: str | None = None,
    ) -> None:
        self.local = local
        self.name = name
        self._clock = clock
        self._shared = shared
        self._message = message
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def _rule(self, key: str) -> Throttle | Backoff:
        return self.local.rule(key) if isinstance(self.local, LoginThrottle) else self.local

    async def retry_after(self, key: str) -> int:
        """Seconds until ``key`` may try again; 0 when it may try now."""
        rule = self._rule(key)
        if self._shared is not None:
            wait = await self._ask(rule, key, count=False)
            if wait is not None:
                if isinstance(rule, Throttle):
                    return max(1, math.ceil(wait)) if wait > 0 else 0
                return max(0, math.ceil(wait))
        return rule.retry_after(key)

    async def check(self, *keys: str) -> None:
        """Raise :class:`RateLimited` with the longest wait if any key must wait."""
        wait = max([await self.retry_after(k) for k in keys], default=0)
        if wait:
            raise RateLimited(wait, self._message)

    async def hit(self, *keys: str) -> None:
        """Count one failure (or event) for every key."""
        for key in keys:
            rule = self._rule(key)
            rule.failure(key)
            if self._shared is not None:
                await self._ask(rule, key, count=True)

    async def reset(self, key: str) -> None:
        self._rule(key).reset(key)
        if self._shared is not None:
            await self._shared.forget(self.name, key)

    @asynccontextmanager
    async def one_at_a_time(self, key: str) -> AsyncIterator[None]:
        """Checks of ``key`` one after another, on this node and across the nodes:
        parallel guesses would all pass the throttle before the first failure counted."""
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        async with lock:
            shared, holder = self._shared, secrets.token_hex(8)
            # Not held (Redis away, or a node died holding it): go on, this node's lock
            # and the throttle still stand.
            held = shared is not None and await shared.hold(
                self.name, key, holder, ttl=HOLD, wait=HOLD
            )
            try:
                yield
            finally:
                if shared is not None and held:
                    await shared.let_go(self.name, key, holder)

    async def _ask(self, rule: Throttle | Backoff, key: str, *, count: bool) -> float | None:
        assert self._shared is not None
        now = self._clock.now().timestamp()
        if isinstance(rule, Throttle):
            event = secrets.token_hex(8) if count else None
            return await self._shared.window(
                self.name, key, now, limit=rule.limit, window=rule.window, hit=event
            )
        return await self._shared.backoff(
            self.name,
            key,
            now,
            failure=count,
            free=rule.free,
            base=rule.base,
            cap=rule.cap,
            forget=rule.forget,
        )


class HandshakeSlots:
    """Device sockets per address that have not authenticated yet, at most ``limit``:
    counted in ``counter`` on this node and, with several nodes, in Redis, where a claim
    lapses after ``ttl`` seconds (the handshake's deadline) should its node die."""

    NAME = "handshakes"

    def __init__(
        self,
        counter: Counter[str],
        clock: Clock,
        *,
        limit: int,
        ttl: float,
        shared: RedisLimits | None = None,
    ) -> None:
        self.counter = counter
        self._clock = clock
        self.limit = limit
        self.ttl = ttl
        self._shared = shared

    async def take(self, address: str) -> Slot | None:
        """A slot for one more socket from ``address``; None when all are taken."""
        if self.counter[address] >= self.limit:
            return None
        holder = None
        if self._shared is not None:
            holder = secrets.token_hex(8)
            now = self._clock.now().timestamp()
            taken = await self._shared.take_slot(
                self.NAME, address, holder, now, limit=self.limit, ttl=self.ttl
            )
            if taken is False:
                return None
            if taken is None:
                holder = None  # Redis cannot answer: this node counts alone
            # Taking it may have waited for Redis: check this node's count again.
            if self.counter[address] >= self.limit:
                if holder is not None:
                    await self._shared.free_slot(self.NAME, address, holder)
                return None
        return Slot(self, address, holder)


class Slot:
    """One taken handshake slot; :meth:`release` (idempotent) gives it back."""

    def __init__(self, slots: HandshakeSlots, address: str, holder: str | None) -> None:
        self._slots = slots
        self._address = address
        self._holder = holder
        slots.counter[address] += 1
        self._held = True

    def release(self) -> None:
        if not self._held:
            return
        self._held = False
        counter = self._slots.counter
        counter[self._address] -= 1
        if counter[self._address] <= 0:
            del counter[self._address]
        shared = self._slots._shared
        if self._holder is not None and shared is not None:
            # Aside: a socket's end never waits for Redis (an unfreed claim lapses).
            task = asyncio.ensure_future(
                shared.free_slot(HandshakeSlots.NAME, self._address, self._holder)
            )
            _freeing.add(task)
            task.add_done_callback(_freeing.discard)


_freeing: set[asyncio.Future[None]] = set()
