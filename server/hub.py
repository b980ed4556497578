"""Fan-out of change hints to whoever follows an account (in-process).

The database is the truth; what travels here are hints. A listener that misses one
loses nothing: its followers catch up from their cursors. A Redis-backed hub for several
server processes will implement the same methods.

One listener per account (the browser fan-out of that account, ``server.ws.fanout``),
not one per socket: a hint is one call, however many tabs are open.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ChangesHint:
    """The account's seq moved; followers behind it should fetch changes."""

    upto: int


@dataclass(frozen=True)
class DevicesHint:
    """A bridge connected, disconnected or reported modem state."""


Hint = ChangesHint | DevicesHint
Listener = Callable[[Hint], None]


class Hub:
    def __init__(self) -> None:
        self._listeners: dict[int, Listener] = {}
        self._latest: dict[int, int] = {}

    def listen(self, account_id: int, listener: Listener) -> None:
        """Call ``listener`` (synchronously; it must not block) with the account's hints."""
        self._listeners[account_id] = listener

    def unlisten(self, account_id: int, listener: Listener) -> None:
        if self._listeners.get(account_id) is listener:
            del self._listeners[account_id]

    def publish(self, account_id: int, hint: Hint) -> None:
        if isinstance(hint, ChangesHint):
            self._latest[account_id] = max(self._latest.get(account_id, 0), hint.upto)
        listener = self._listeners.get(account_id)
        if listener is not None:
            listener(hint)

    def latest(self, account_id: int) -> int:
        """The highest seq announced for the account since this process started.

        A change committed before then is visible to any read that starts after start-up,
        so a shared read that reaches this seq is fresh enough for a new subscriber.
        """
        return self._latest.get(account_id, 0)
