"""Server-side browser sessions. Only the SHA-256 of a session id is stored."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from server.storage.schema import sessions

# Writing last_seen on every request would turn every read into a write.
_TOUCH_EVERY = timedelta(minutes=1)


def hash_session_id(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode()).digest()


class SessionStore:
    def __init__(self, engine: AsyncEngine, *, idle: timedelta, absolute: timedelta) -> None:
        self._engine = engine
        self.idle = idle
        self.absolute = absolute

    async def create(
        self, session_id: str, account_id: int, now: datetime, user_agent: str
    ) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(sessions).values(
                    id_hash=hash_session_id(session_id),
                    account_id=account_id,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=now + self.absolute,
                    user_agent=user_agent[:255],
                )
            )

    async def resolve(self, session_id: str, now: datetime) -> int | None:
        """The account of a live session, or ``None`` (expired sessions are deleted)."""
        key = hash_session_id(session_id)
        async with self._engine.begin() as conn:
            row = (await conn.execute(select(sessions).where(sessions.c.id_hash == key))).first()
            if row is None:
                return None
            m = row._mapping
            if now >= m["expires_at"] or now >= m["last_seen_at"] + self.idle:
                await conn.execute(delete(sessions).where(sessions.c.id_hash == key))
                return None
            if now - m["last_seen_at"] >= _TOUCH_EVERY:
                await conn.execute(
                    update(sessions).where(sessions.c.id_hash == key).values(last_seen_at=now)
                )
            return int(m["account_id"])

    async def delete(self, session_id: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                delete(sessions).where(sessions.c.id_hash == hash_session_id(session_id))
            )
