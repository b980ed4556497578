"""Security events of an account (sign-ins, failed sign-ins, resets, new devices, …),
shown to the user in settings and to operators through ``ferry admin security-events``.

Each event says who acted: a browser (its user agent) or, for events a bridge causes over
its own link (``BRIDGE_EVENTS``: pairing), :data:`BRIDGE_AGENT`. A bridge sends no user
agent, and "unknown browser" would be wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from server.storage.schema import security_events as events

#: Who acted, for events a bridge causes over its device link.
BRIDGE_AGENT = "Ferry bridge"
#: Events recorded by a bridge's connection rather than a browser request.
BRIDGE_EVENTS = frozenset({"device_added"})


def _agent(kind: str, user_agent: str | None) -> str | None:
    if user_agent:
        return user_agent
    return BRIDGE_AGENT if kind in BRIDGE_EVENTS else None


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
                    user_agent=_agent(kind, user_agent[:255]),
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
                SecurityEvent(r.id, r.kind, r.created_at, r.ip, _agent(r.kind, r.user_agent))
                for r in await conn.execute(query)
            ]
