"""Accounts store: one named transaction per method."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from server.storage.lines import insert_line
from server.storage.schema import accounts, lines
from server.storage.util import new_id as _new_id


@dataclass(frozen=True)
class Account:
    id: int
    phone: str
    password_hash: str
    phone_verified: bool


class AccountExists(Exception):
    """An account with this phone number already exists."""


class AccountStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def create(
        self, phone: str, password_hash: str, now: datetime, *, verified_at: datetime | None
    ) -> int:
        """Create an account; ``verified_at`` set only when ownership was proven."""
        try:
            async with self._engine.begin() as conn:
                res = await conn.execute(
                    insert(accounts).values(
                        phone=phone,
                        password_hash=password_hash,
                        phone_verified_at=verified_at,
                        created_at=now,
                        seq=0,
                    )
                )
                account_id = _new_id(res)
                # The account's own number is its first line.
                await insert_line(conn, account_id, phone, now, verified_at)
                return account_id
        except IntegrityError:
            raise AccountExists(phone) from None

    async def by_phone(self, phone: str) -> Account | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(accounts).where(accounts.c.phone == phone))).first()
        return _account(row)

    async def get(self, account_id: int) -> Account | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(accounts).where(accounts.c.id == account_id))).first()
        return _account(row)

    async def set_password_hash(self, account_id: int, password_hash: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                update(accounts)
                .where(accounts.c.id == account_id)
                .values(password_hash=password_hash)
            )

    async def set_verified(self, account_id: int, when: datetime) -> None:
        """The account's own number is proven: the account and that line are verified."""
        async with self._engine.begin() as conn:
            phone = (
                await conn.execute(
                    update(accounts)
                    .where(accounts.c.id == account_id)
                    .values(phone_verified_at=when)
                    .returning(accounts.c.phone)
                )
            ).scalar_one()
            await conn.execute(
                update(lines)
                .where(lines.c.account_id == account_id, lines.c.number == phone)
                .values(verified_at=when)
            )


def _account(row: object) -> Account | None:
    if row is None:
        return None
    m = row._mapping  # type: ignore[attr-defined]
    return Account(
        id=m["id"],
        phone=m["phone"],
        password_hash=m["password_hash"],
        phone_verified=m["phone_verified_at"] is not None,
    )
