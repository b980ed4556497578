"""Open client sockets by grant, so revoking a grant closes its sockets within seconds.

A revocation on this node closes them at once (:meth:`ClientSockets.sweep` right after);
one on another node, or a grant's expiry, is seen by the periodic sweep, which asks the
database which grants still work.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable

from aiohttp import web

from server.hub import ChangesHint, Hint

#: The app's access ended (revoked or expired): get a new grant.
CLOSE_GRANT_ENDED = 4401


class ClientSockets:
    def __init__(self) -> None:
        self._by_grant: dict[int, set[web.WebSocketResponse]] = defaultdict(set)

    def add(self, grant_id: int, ws: web.WebSocketResponse) -> None:
        self._by_grant[grant_id].add(ws)

    def discard(self, grant_id: int, ws: web.WebSocketResponse) -> None:
        sockets = self._by_grant.get(grant_id)
        if sockets is not None:
            sockets.discard(ws)
            if not sockets:
                del self._by_grant[grant_id]

    def count(self, grant_id: int) -> int:
        return len(self._by_grant.get(grant_id, ()))

    async def sweep(self, live: Callable[[list[int]], Awaitable[set[int]]]) -> int:
        """Close the sockets of grants that no longer work; how many were closed."""
        grant_ids = list(self._by_grant)
        if not grant_ids:
            return 0
        alive = await live(grant_ids)
        closed = 0
        for grant_id in grant_ids:
            if grant_id in alive:
                continue
            for ws in list(self._by_grant.get(grant_id, ())):
                await ws.close(code=CLOSE_GRANT_ENDED, message=b"access revoked")
                closed += 1
        return closed


class Wakeups:
    """Per account, the events of its app sockets; the hub's observer sets them."""

    def __init__(self) -> None:
        self._events: dict[int, set[asyncio.Event]] = defaultdict(set)

    def observe(self, account_id: int, hint: Hint) -> None:
        if isinstance(hint, ChangesHint):
            for event in self._events.get(account_id, ()):
                event.set()

    def add(self, account_id: int, event: asyncio.Event) -> None:
        self._events[account_id].add(event)

    def discard(self, account_id: int, event: asyncio.Event) -> None:
        events = self._events.get(account_id)
        if events is not None:
            events.discard(event)
            if not events:
                del self._events[account_id]
