"""When verification texts were spent from the hourly budget: what ``ferry admin signup
status`` shows, whichever node spent them. The budget itself is enforced by the shared
throttle (``Throttles.budget``); this is the record, times only."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from server.storage.runner import runner
from server.storage.schema import verify_sends

#: Rows older than this are deleted as new ones come.
KEEP = timedelta(days=2)


class VerifySendLog:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def record(self, now: datetime) -> None:
        await runner(self._engine).write(_record, now)

    async def since(self, since: datetime) -> int:
        """Texts spent after ``since``."""
        return await runner(self._engine).read(_since, since)


def _record(conn: Connection, now: datetime) -> None:
    conn.execute(verify_sends.delete().where(verify_sends.c.at < now - KEEP))
    conn.execute(verify_sends.insert().values(at=now))


def _since(conn: Connection, since: datetime) -> int:
    found = conn.execute(
        select(func.count()).select_from(verify_sends).where(verify_sends.c.at > since)
    ).scalar_one()
    return int(found)
