"""Throttling: at most ``limit`` events per key within a sliding ``window`` of seconds.

Used for failed sign-ins and code checks (per account or number and per IP) and for code
sends (per number and per IP). Keys are strings such as ``"ip:203.0.113.9"``.
"""

from __future__ import annotations

from collections import deque

from server.clock import Clock
from server.errors import RateLimited

_MAX_KEYS = 100_000


class Throttle:
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
        return int(q[0] + self.window - self._clock.monotonic()) + 1

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
        if len(self._failures) >= _MAX_KEYS:
            # Bounded memory under a flood of distinct keys: forget the oldest entries.
            for old in list(self._failures)[: _MAX_KEYS // 10]:
                del self._failures[old]
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
