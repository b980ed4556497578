"""Invite codes for ``FERRY_SIGNUP=invite`` (see ``server/auth/signup.py``): made and
revoked by operators, each usable once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from server.storage.runner import runner
from server.storage.schema import invite_codes
from server.storage.util import new_id


@dataclass(frozen=True)
class Invite:
    id: int
    #: The code's first group, in clear.
    prefix: str
    note: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None

    def state(self, now: datetime) -> str:
        """``active``, ``used``, ``revoked`` or ``expired``."""
        if self.used_at is not None:
            return "used"
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= now else "active"


class InviteStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def create(
        self, code_hash: bytes, prefix: str, now: datetime, ttl: timedelta, note: str = ""
    ) -> int:
        return await runner(self._engine).write(_create, code_hash, prefix, now, ttl, note)

    async def consume(self, code_hash: bytes, now: datetime) -> int | None:
        """Use the code (once); its id, or None when it is unknown, used, revoked or expired."""
        return await runner(self._engine).write(_consume, code_hash, now)

    async def usable(self, code_hash: bytes, now: datetime) -> bool:
        """Whether the code exists and is neither used, revoked nor expired."""
        return await runner(self._engine).read(_usable, code_hash, now)

    async def used_by(self, invite_id: int, account_id: int) -> None:
        """Note the account a used code created."""
        await runner(self._engine).write(_used_by, invite_id, account_id)

    async def revoke(self, invite_id: int, now: datetime) -> bool:
        """Revoke an unused code; False when there is no such unused, unrevoked code."""
        return await runner(self._engine).write(_revoke, invite_id, now)

    async def all(self, limit: int = 1000) -> list[Invite]:
        """Every code, newest first."""
        return await runner(self._engine).read(_all, limit)


def _create(
    conn: Connection, code_hash: bytes, prefix: str, now: datetime, ttl: timedelta, note: str
) -> int:
    res = conn.execute(
        invite_codes.insert().values(
            code_hash=code_hash, prefix=prefix, note=note, created_at=now, expires_at=now + ttl
        )
    )
    return new_id(res)


def _consume(conn: Connection, code_hash: bytes, now: datetime) -> int | None:
    row = conn.execute(
        select(invite_codes.c.id).where(invite_codes.c.code_hash == code_hash)
    ).first()
    if row is None:
        return None
    done = conn.execute(
        update(invite_codes)
        .where(
            invite_codes.c.id == row.id,
            invite_codes.c.used_at.is_(None),
            invite_codes.c.revoked_at.is_(None),
            invite_codes.c.expires_at > now,
        )
        .values(used_at=now)
    )
    return row.id if done.rowcount else None


def _usable(conn: Connection, code_hash: bytes, now: datetime) -> bool:
    row = conn.execute(
        select(invite_codes.c.id).where(
            invite_codes.c.code_hash == code_hash,
            invite_codes.c.used_at.is_(None),
            invite_codes.c.revoked_at.is_(None),
            invite_codes.c.expires_at > now,
        )
    ).first()
    return row is not None


def _used_by(conn: Connection, invite_id: int, account_id: int) -> None:
    conn.execute(
        update(invite_codes).where(invite_codes.c.id == invite_id).values(used_by=account_id)
    )


def _revoke(conn: Connection, invite_id: int, now: datetime) -> bool:
    done = conn.execute(
        update(invite_codes)
        .where(
            invite_codes.c.id == invite_id,
            invite_codes.c.used_at.is_(None),
            invite_codes.c.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    return bool(done.rowcount)


def _all(conn: Connection, limit: int) -> list[Invite]:
    rows = conn.execute(select(invite_codes).order_by(invite_codes.c.id.desc()).limit(limit))
    return [
        Invite(r.id, r.prefix, r.note, r.created_at, r.expires_at, r.used_at, r.revoked_at)
        for r in rows
    ]
