"""Accounts store: one named transaction per method."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.storage.lines import insert_line
from server.storage.runner import runner
from server.storage.schema import accounts, lines
from server.storage.util import new_id as _new_id


@dataclass(frozen=True)
class Account:
    id: int
    phone: str
    password_hash: str
    phone_verified: bool
    created_at: datetime | None = None
    email: str | None = None
    display_name: str | None = None


class AccountExists(Exception):
    """An account with this phone number already exists."""


class AccountStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def create(
        self,
        phone: str,
        password_hash: str,
        now: datetime,
        *,
        verified_at: datetime | None,
        email: str | None = None,
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
                        email=email,
                    )
                )
                account_id = _new_id(res)
                # The account's own number is its first line.
                await insert_line(conn, account_id, phone, now, verified_at)
                return account_id
        except IntegrityError:
            raise AccountExists(phone) from None

    async def replace_unverified(
        self, phone: str, password_hash: str, now: datetime, *, email: str | None
    ) -> tuple[int, int | None] | None:
        """Sign-up for ``phone``: create its account, or replace an unverified claim on it.

        Returns ``(new_id, replaced_id)``, or ``None`` when a verified account owns the
        number. An unverified account is only a claim nobody has proven; the newest claim
        starts afresh (its devices and data go with the old one). A number another account
        holds as a verified line (not its own number) counts as owned too.
        """
        try:
            async with self._engine.begin() as conn:
                return await _replace_unverified(conn, phone, password_hash, now, email)
        except IntegrityError:
            return None  # insert_line: a verified line of another account has the number

    async def by_phone(self, phone: str) -> Account | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(accounts).where(accounts.c.phone == phone))).first()
        return _account(row)

    async def get(self, account_id: int) -> Account | None:
        return _account(await runner(self._engine).read_shared(_account_row, account_id))

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

    async def set_phone(self, account_id: int, phone: str, verified_at: datetime) -> None:
        """Move the account to a number its owner just proved.

        Raises:
            AccountExists: another account holds the number.
        """
        try:
            async with self._engine.begin() as conn:
                other = (
                    await conn.execute(
                        select(accounts.c.id, accounts.c.phone_verified_at).where(
                            accounts.c.phone == phone, accounts.c.id != account_id
                        )
                    )
                ).first()
                if other is not None:
                    if other.phone_verified_at is not None:
                        raise AccountExists(phone)
                    # An unproven claim yields to the proven owner.
                    await conn.execute(delete(accounts).where(accounts.c.id == other.id))
                await conn.execute(
                    update(accounts)
                    .where(accounts.c.id == account_id)
                    .values(phone=phone, phone_verified_at=verified_at)
                )
                # The new number becomes a verified line of the account; the old line and
                # its conversations stay (the user proved that number too, earlier). A
                # line of the number on another account is never moved here with its
                # conversations: an unproven claim yields, a verified one refuses.
                existing = (
                    await conn.execute(
                        select(lines.c.id).where(
                            lines.c.number == phone, lines.c.account_id == account_id
                        )
                    )
                ).scalar_one_or_none()
                if existing is None:
                    await insert_line(conn, account_id, phone, verified_at, verified_at)
                else:
                    await conn.execute(
                        update(lines).where(lines.c.id == existing).values(verified_at=verified_at)
                    )
        except IntegrityError:
            raise AccountExists(phone) from None

    async def update_profile(
        self, account_id: int, *, email: str | None, display_name: str | None
    ) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                update(accounts)
                .where(accounts.c.id == account_id)
                .values(email=email, display_name=display_name)
            )


async def _replace_unverified(
    conn: AsyncConnection, phone: str, password_hash: str, now: datetime, email: str | None
) -> tuple[int, int | None] | None:
    row = (
        await conn.execute(
            select(accounts.c.id, accounts.c.phone_verified_at).where(accounts.c.phone == phone)
        )
    ).first()
    if row is not None and row.phone_verified_at is not None:
        return None
    if row is not None:
        await conn.execute(delete(accounts).where(accounts.c.id == row.id))
    res = await conn.execute(
        insert(accounts).values(
            phone=phone,
            password_hash=password_hash,
            phone_verified_at=None,
            created_at=now,
            seq=0,
            email=email,
        )
    )
    account_id = _new_id(res)
    await insert_line(conn, account_id, phone, now, None)
    return account_id, (row.id if row is not None else None)


def _account(row: object) -> Account | None:
    if row is None:
        return None
    m = row._mapping  # type: ignore[attr-defined]
    return Account(
        id=m["id"],
        phone=m["phone"],
        password_hash=m["password_hash"],
        phone_verified=m["phone_verified_at"] is not None,
        created_at=m["created_at"],
        email=m["email"],
        display_name=m["display_name"],
    )


_ACCOUNT_ROW = select(accounts).where(accounts.c.id == bindparam("account_id"))


def _account_row(conn: Connection, account_id: int) -> Any:
    return conn.execute(_ACCOUNT_ROW, {"account_id": account_id}).first()
