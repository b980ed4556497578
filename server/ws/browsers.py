"""Open browser sockets by session, so ending a session closes its sockets at once.

Sign-out, revocation, password change and reset close the sockets of the sessions they
end through :meth:`BrowserSockets.close_sessions`; a periodic sweep closes the sockets of
sessions that expired (idle or absolute) in between.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from aiohttp import web

#: The browser should sign in again.
CLOSE_SESSION_ENDED = 4401


class BrowserSockets:
    def __init__(self) -> None:
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
        for handle in list(handles):
            for ws in list(self._by_session.get(handle, ())):
                await ws.close(code=CLOSE_SESSION_ENDED, message=b"session ended")
