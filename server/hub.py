"""Fan-out of change hints to an account's live sockets (in-process).

The database is the truth; what travels here are hints. A subscriber that misses one, or
whose bounded queue overflows, loses nothing: it is closed and its client resumes from
its cursor. A Redis-backed hub for several server processes will implement the same two
methods.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass


@dataclass(frozen=True)
class ChangesHint:
    """The account's seq moved; subscribers behind it should fetch changes."""

    upto: int


@dataclass(frozen=True)
class DevicesHint:
    """A bridge connected, disconnected or reported modem state."""


Hint = ChangesHint | DevicesHint


class Subscription:
    """One socket's queue of hints."""

    def __init__(self, hub: Hub, account_id: int, maxsize: int) -> None:
        self._hub = hub
        self.account_id = account_id
        self.queue: asyncio.Queue[Hint] = asyncio.Queue(maxsize)
        #: Set when the queue overflowed: the socket must close and resume later.
        self.overflowed = asyncio.Event()

    def offer(self, hint: Hint) -> None:
        try:
            self.queue.put_nowait(hint)
        except asyncio.QueueFull:
            self.overflowed.set()

    def close(self) -> None:
        self._hub._remove(self)


class Hub:
    def __init__(self, queue_size: int = 256) -> None:
        self._subs: dict[int, set[Subscription]] = defaultdict(set)
        self._queue_size = queue_size
        self._latest: dict[int, int] = {}

    def subscribe(self, account_id: int) -> Subscription:
        sub = Subscription(self, account_id, self._queue_size)
        self._subs[account_id].add(sub)
        return sub

    def publish(self, account_id: int, hint: Hint) -> None:
        if isinstance(hint, ChangesHint):
            self._latest[account_id] = max(self._latest.get(account_id, 0), hint.upto)
        for sub in list(self._subs.get(account_id, ())):
            sub.offer(hint)

    def latest(self, account_id: int) -> int:
        """The highest seq announced for the account since this process started.

        A change committed before then is visible to any read that starts after start-up,
        so a shared read that reaches this seq is fresh enough for a new subscriber.
        """
        return self._latest.get(account_id, 0)

    def subscriber_count(self, account_id: int) -> int:
        return len(self._subs.get(account_id, ()))

    def _remove(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.account_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.account_id]
