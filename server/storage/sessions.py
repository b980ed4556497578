"""Server-side browser sessions. Only the SHA-256 of a session id is stored.

A session's *handle* is the hex of that hash: it names the session in the settings list
("sign out this browser") and in the socket registry, and is useless as a cookie.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from server.storage.runner import runner
from server.storage.schema import sessions

# Writing last_seen on every request would turn every read into a write.
_TOUCH_EVERY = timedelta(minutes=1)


def hash_session_id(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode()).digest()


def session_handle(session_id: str) -> str:
    return hash_session_id(session_id).hex()


def _key(handle: str) -> bytes | None:
    try:
        key = bytes.fromhex(handle)
    except ValueError:
        return None
    return key if len(key) == 32 else None


@dataclass(frozen=True)
class SessionInfo:
    handle: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    user_agent: str
    ip: str | None


class SessionStore:
    def __init__(self, engine: AsyncEngine, *, idle: timedelta, absolute: timedelta) -> None:
        self._engine = engine
        self.idle = idle
        self.absolute = absolute

    async def create(
        self, session_id: str, account_id: int, now: datetime, user_agent: str, ip: str = ""
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
                    ip=ip[:64] or None,
                )
            )

    async def resolve(self, session_id: str, now: datetime) -> int | None:
        """The account of a live session, or ``None`` (expired sessions are deleted)."""
        key = hash_session_id(session_id)
        # Every request of a signed-in browser comes here: one read, and a write only
        # when the session ends or its last-seen time is due.
        row = await runner(self._engine).read_shared(_session_row, key)
        if row is None:
            return None
        if not self._live(row.expires_at, row.last_seen_at, now):
            async with self._engine.begin() as conn:
                await conn.execute(delete(sessions).where(sessions.c.id_hash == key))
            return None
        if now - row.last_seen_at >= _TOUCH_EVERY:
            async with self._engine.begin() as conn:
                await conn.execute(
                    update(sessions).where(sessions.c.id_hash == key).values(last_seen_at=now)
                )
        return int(row.account_id)

    def _live(self, expires_at: datetime, last_seen_at: datetime, now: datetime) -> bool:
        return now < expires_at and now < last_seen_at + self.idle

    async def delete(self, session_id: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                delete(sessions).where(sessions.c.id_hash == hash_session_id(session_id))
            )

    async def for_account(self, account_id: int, now: datetime) -> list[SessionInfo]:
        """The account's live sessions, most recently used first."""
        query = (
            select(sessions)
            .where(sessions.c.account_id == account_id)
            .order_by(sessions.c.last_seen_at.desc())
        )
        async with self._engine.connect() as conn:
            rows = [r._mapping for r in await conn.execute(query)]
        return [
            SessionInfo(
                handle=m["id_hash"].hex(),
                created_at=m["created_at"],
                last_seen_at=m["last_seen_at"],
                expires_at=min(m["expires_at"], m["last_seen_at"] + self.idle),
                user_agent=m["user_agent"],
                ip=m["ip"],
            )
            for m in rows
            if self._live(m["expires_at"], m["last_seen_at"], now)
        ]

    async def delete_handle(self, account_id: int, handle: str) -> bool:
        """End one of the account's sessions; False if it has no such session."""
        key = _key(handle)
        if key is None:
            return False
        async with self._engine.begin() as conn:
            res = await conn.execute(
                delete(sessions).where(
                    sessions.c.id_hash == key, sessions.c.account_id == account_id
                )
            )
        return bool(res.rowcount)

    async def delete_all(self, account_id: int, *, keep: str | None = None) -> list[str]:
        """End every session of the account except the handle ``keep``; returns the handles."""
        keep_key = _key(keep) if keep else None
        cond = sessions.c.account_id == account_id
        if keep_key is not None:
            cond = cond & (sessions.c.id_hash != keep_key)
        async with self._engine.begin() as conn:
            keys = [r[0] for r in await conn.execute(select(sessions.c.id_hash).where(cond))]
            await conn.execute(delete(sessions).where(cond))
        return [k.hex() for k in keys]

    async def live_handles(self, handles: Iterable[str], now: datetime) -> set[str]:
        """Which of ``handles`` still name live sessions."""
        keys = [k for k in (_key(h) for h in handles) if k is not None]
        if not keys:
            return set()
        query = select(sessions.c.id_hash, sessions.c.expires_at, sessions.c.last_seen_at).where(
            sessions.c.id_hash.in_(keys)
        )
        async with self._engine.connect() as conn:
            rows = list(await conn.execute(query))
        return {r.id_hash.hex() for r in rows if self._live(r.expires_at, r.last_seen_at, now)}

    async def prune(self, now: datetime) -> int:
        """Delete expired sessions; returns how many."""
        async with self._engine.begin() as conn:
            res = await conn.execute(
                delete(sessions).where(
                    or_(sessions.c.expires_at <= now, sessions.c.last_seen_at <= now - self.idle)
                )
            )
        return int(res.rowcount or 0)


_SESSION_ROW = select(sessions.c.account_id, sessions.c.expires_at, sessions.c.last_seen_at).where(
    sessions.c.id_hash == bindparam("key")
)


def _session_row(conn: Connection, key: bytes) -> Any:
    return conn.execute(_SESSION_ROW, {"key": key}).first()
