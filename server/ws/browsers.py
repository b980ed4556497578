"""Open browser sockets by session, so ending a session closes its sockets at once.

Sign-out, revocation, password change and reset close the sockets of the sessions they
end through :meth:`BrowserSockets.close_sessions` (on every node: the hub carries the
order); a periodic sweep closes the sockets of sessions that expired (idle or absolute)
in between, and those whose order was missed while Redis was away.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from aiohttp import web

from server.hub import CloseSessions, Hub
from server.nodes.wire import MAX_HANDLES

#: The browser should sign in again.
CLOSE_SESSION_ENDED = 4401


class BrowserSockets:
    def __init__(self, hub: Hub | None = None) -> None:
        self._hub = hub or Hub()
        self._by_session: dict[str, set[web.WebSocketResponse]] = defaultdict(set)
        self._account: dict[str, int] = {}

    def add(self, handle: str, account_id: int, ws: web.WebSocketResponse) -> None:
        self._by_session[handle].add(ws)
        self._account[handle] = account_id

    def discard(self, handle: str, ws: web.WebSocketResponse) -> None:
        sockets = self._by_session.get(handle)
        if sockets is None:
            return
        sockets.discard(ws)
        if not sockets:
            del self._by_session[handle]
            self._account.pop(handle, None)

    def handles(self) -> list[str]:
        return list(self._by_session)

    def handles_of(self, account_id: int) -> list[str]:
        return [h for h, a in self._account.items() if a == account_id]

    def count(self, handle: str) -> int:
        return len(self._by_session.get(handle, ()))

    async def close_sessions(self, handles: Iterable[str]) -> None:
        """Close the sockets of these sessions, on every node."""
        handles = list(handles)
        for i in range(0, len(handles), MAX_HANDLES):
            self._hub.broadcast(CloseSessions(handles[i : i + MAX_HANDLES]))
        await self.close_here(handles)

    async def close_here(self, handles: Iterable[str]) -> None:
        """Close the sockets of these sessions on this node."""
        for handle in list(handles):
            for ws in list(self._by_session.get(handle, ())):
                await ws.close(code=CLOSE_SESSION_ENDED, message=b"session ended")
