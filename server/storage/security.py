"""Security events of an account (sign-ins, failed sign-ins, resets, new devices, …),
shown to the user in settings and to operators through ``ferry admin security-events``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from server.storage.schema import security_events as events


@dataclass(frozen=True)
class SecurityEvent:
    id: int
    kind: str
    created_at: datetime
    ip: str | None
    user_agent: str | None


class SecurityEventStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def record(
        self, account_id: int, kind: str, now: datetime, *, ip: str = "", user_agent: str = ""
    ) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(events).values(
                    account_id=account_id,
                    kind=kind[:32],
                    created_at=now,
                    ip=ip[:64] or None,
                    user_agent=user_agent[:255] or None,
                )
            )

    async def for_account(
        self, account_id: int, *, limit: int = 50, before: int | None = None
    ) -> list[SecurityEvent]:
        """Newest first; ``before`` pages back by event id."""
        query = select(events).where(events.c.account_id == account_id)
        if before is not None:
            query = query.where(events.c.id < before)
        query = query.order_by(events.c.id.desc()).limit(limit)
        async with self._engine.connect() as conn:
            return [
                SecurityEvent(r.id, r.kind, r.created_at, r.ip, r.user_agent)
                for r in await conn.execute(query)
            ]
