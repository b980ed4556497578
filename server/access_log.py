"""The access log: one row per request in the ``access_log`` table.

What is kept: time, client IP, user agent, method, the route *pattern* that matched
(``/api/v1/threads/{thread_id}/messages``, never the raw path or query string), status.
Never bodies, codes, tokens or cookies. Rows are buffered in memory and written in
batches by a background task (a write per request would slow every request down); rows
older than ``Config.access_log_retention`` are deleted by another.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime

from aiohttp import web

from server.clock import Clock
from server.storage.access_log import AccessEntry, AccessLogStore

_MAX_BUFFER = 10_000  # under a flood, the oldest unwritten rows are dropped


def route_of(request: web.Request) -> str:
    resource = request.match_info.route.resource
    if resource is None:
        return "(unmatched)"
    return resource.canonical[:200]


class AccessLog:
    def __init__(self, store: AccessLogStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._buffer: deque[AccessEntry] = deque(maxlen=_MAX_BUFFER)

    def record(self, request: web.Request, status: int, ip: str) -> None:
        """Buffer one row; ``ip`` is the client's (``server.auth.web.client_ip``)."""
        self._buffer.append(
            AccessEntry(
                at=self._clock.now(),
                ip=ip[:64] or None,
                user_agent=request.headers.get("User-Agent", "")[:255] or None,
                method=request.method[:8],
                route=route_of(request),
                status=status,
            )
        )

    async def flush(self) -> None:
        batch = list(self._buffer)
        self._buffer.clear()
        await self._store.append(batch)

    async def prune(self, older_than: datetime) -> int:
        """Delete rows older than ``older_than``; returns how many."""
        return await self._store.prune(older_than)
