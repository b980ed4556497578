"""Verification codes: one live code per account and purpose, stored as a MAC.

The rules (enforced here, in one transaction per operation): a code lives until
``expires_at``; it is used at most once; a wrong guess counts against it and the
``max_attempts``-th wrong guess deletes it; issuing a new code for the same purpose
replaces (kills) the previous one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from server.storage.schema import verification_codes as codes

#: Given the number a code was sent to and its stored MAC: is this the code?
Matcher = Callable[[str, bytes], bool]


@dataclass(frozen=True)
class PendingCode:
    id: int
    purpose: str
    phone: str
    code_hash: bytes


class CodeStore:
    def __init__(self, engine: AsyncEngine, *, ttl: timedelta, max_attempts: int) -> None:
        self._engine = engine
        self.ttl = ttl
        self.max_attempts = max_attempts

    async def issue(
        self, account_id: int, purpose: str, phone: str, code_hash: bytes, now: datetime
    ) -> None:
        """Store a new code, killing any earlier code of the same purpose."""
        async with self._engine.begin() as conn:
            await conn.execute(
                delete(codes).where(codes.c.account_id == account_id, codes.c.purpose == purpose)
            )
            await conn.execute(
                insert(codes).values(
                    account_id=account_id,
                    purpose=purpose,
                    phone=phone,
                    code_hash=code_hash,
                    created_at=now,
                    expires_at=now + self.ttl,
                    attempts=0,
                )
            )

    async def check(
        self, account_id: int, purpose: str, matches: Matcher, now: datetime
    ) -> str | None:
        """Use the account's code for ``purpose`` if ``matches``; returns the number it was
        sent to. A miss counts one attempt; the last allowed miss deletes the code."""
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    select(codes).where(
                        codes.c.account_id == account_id, codes.c.purpose == purpose
                    )
                )
            ).first()
            if row is None:
                return None
            m = row._mapping
            if now >= m["expires_at"]:
                await conn.execute(delete(codes).where(codes.c.id == m["id"]))
                return None
            if matches(m["phone"], m["code_hash"]):
                await conn.execute(delete(codes).where(codes.c.id == m["id"]))
                return str(m["phone"])
            if m["attempts"] + 1 >= self.max_attempts:
                await conn.execute(delete(codes).where(codes.c.id == m["id"]))
            else:
                await conn.execute(
                    update(codes).where(codes.c.id == m["id"]).values(attempts=m["attempts"] + 1)
                )
            return None

    async def pending(
        self, account_id: int, purposes: Iterable[str], now: datetime
    ) -> list[PendingCode]:
        """The account's live codes for ``purposes``."""
        query = select(codes).where(
            codes.c.account_id == account_id,
            codes.c.purpose.in_(list(purposes)),
            codes.c.expires_at > now,
        )
        async with self._engine.connect() as conn:
            return [
                PendingCode(r.id, r.purpose, r.phone, r.code_hash)
                for r in await conn.execute(query)
            ]

    async def consume(self, code_id: int) -> bool:
        """Use a code found by :meth:`pending`; False if it was already used or replaced."""
        async with self._engine.begin() as conn:
            res = await conn.execute(delete(codes).where(codes.c.id == code_id))
        return bool(res.rowcount)
