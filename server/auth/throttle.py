"""Failure throttling: at most ``limit`` failures per key within a sliding ``window``."""

from __future__ import annotations

from collections import deque

from server.clock import Clock

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
