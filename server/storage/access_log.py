"""The access log table: time, IP, user agent, method, route pattern, status.

Never bodies, codes, tokens, cookies or query strings. Rows older than the configured
retention are deleted by :meth:`AccessLogStore.prune` (a background task runs it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from server.storage.schema import access_log


@dataclass(frozen=True)
class AccessEntry:
    at: datetime
    ip: str | None
    user_agent: str | None
    method: str
    route: str
    status: int


class AccessLogStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def append(self, entries: Sequence[AccessEntry]) -> None:
        if not entries:
            return
        async with self._engine.begin() as conn:
            await conn.execute(insert(access_log), [asdict(e) for e in entries])

    async def prune(self, older_than: datetime) -> int:
        async with self._engine.begin() as conn:
            res = await conn.execute(delete(access_log).where(access_log.c.at < older_than))
        return int(res.rowcount or 0)

    async def recent(self, limit: int = 100) -> list[AccessEntry]:
        query = select(access_log).order_by(access_log.c.id.desc()).limit(limit)
        async with self._engine.connect() as conn:
            return [
                AccessEntry(r.at, r.ip, r.user_agent, r.method, r.route, r.status)
                for r in await conn.execute(query)
            ]
