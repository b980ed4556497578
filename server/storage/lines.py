"""Lines: the phone numbers (SIMs) of an account, and which bridge serves which.

An account's first line is its own number. More come with more phones: pairing a bridge
for another number adds that number as an *unverified* line (its conversations are
stored, never served) until the account proves it holds the SIM: the code texted to the
number, typed or uploaded by the bridge on that SIM (``server.auth.verification``).

A number is one account's line at most. An unverified line of another account is only a
claim nobody proved: it yields to an account that claims or proves the number, and its
conversations go with it. A verified line, or an account's own number, never yields to a
claim (only a proof of the number moves an account onto it: ``accounts.set_phone``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.storage.epochs import rotate_epoch
from server.storage.runner import runner
from server.storage.schema import accounts, device_lines, lines
from server.storage.util import new_id

#: Longest label of a line ("Work", "Dad's old phone").
MAX_LABEL = 50


class NumberTaken(Exception):
    """Another account holds the number as a verified line or as its own number."""


@dataclass(frozen=True)
class Line:
    id: int
    account_id: int
    number: str
    label: str
    verified: bool


async def insert_line(
    conn: AsyncConnection, account_id: int, number: str, now: datetime, verified_at: datetime | None
) -> int:
    """Create a line inside the caller's transaction; another account's unproven claim on
    the number (an unverified line that is not its own number) yields."""
    await conn.execute(delete(lines).where(lines.c.id.in_(_unproven_claims(account_id, number))))
    res = await conn.execute(
        insert(lines).values(
            account_id=account_id, number=number, label="", verified_at=verified_at, created_at=now
        )
    )
    return new_id(res)


def _unproven_claims(account_id: int, number: str):  # type: ignore[no-untyped-def]
    """Ids of other accounts' unverified lines for ``number`` that are not their own
    number."""
    return (
        select(lines.c.id)
        .join(accounts, accounts.c.id == lines.c.account_id)
        .where(
            lines.c.number == number,
            lines.c.account_id != account_id,
            lines.c.verified_at.is_(None),
            accounts.c.phone != number,
        )
    )


async def claim_number(conn: AsyncConnection, account_id: int, number: str, now: datetime) -> int:
    """The account's line for ``number``, added unverified when it has none, inside the
    caller's transaction.

    Raises:
        NumberTaken: another account holds it as a verified line or its own number.
    """
    found = (
        await conn.execute(select(lines.c.id, lines.c.account_id).where(lines.c.number == number))
    ).first()
    if found is not None and found.account_id == account_id:
        return int(found.id)
    if found is not None:
        claims = set((await conn.execute(_unproven_claims(account_id, number))).scalars())
        if found.id not in claims:
            raise NumberTaken(number)
    return await insert_line(conn, account_id, number, now, None)


class LineStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def for_account(self, account_id: int) -> list[Line]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(lines).where(lines.c.account_id == account_id).order_by(lines.c.id)
            )
            return [_line(r) for r in rows]

    async def for_device(self, device_id: int) -> list[Line]:
        query = (
            select(lines)
            .join(device_lines, device_lines.c.line_id == lines.c.id)
            .where(device_lines.c.device_id == device_id)
            .order_by(lines.c.id)
        )
        async with self._engine.connect() as conn:
            return [_line(r) for r in await conn.execute(query)]

    async def get(self, account_id: int, line_id: int) -> Line | None:
        query = select(lines).where(lines.c.id == line_id, lines.c.account_id == account_id)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return _line(row) if row is not None else None

    async def claim(self, account_id: int, number: str, now: datetime) -> int:
        """:func:`claim_number` in a transaction of its own.

        Raises:
            NumberTaken: as :func:`claim_number`.
        """
        for _ in range(2):
            try:
                async with self._engine.begin() as conn:
                    return await claim_number(conn, account_id, number, now)
            except IntegrityError:
                continue  # claimed at the same moment: look again, it is settled now
        raise NumberTaken(number)

    async def set_label(self, account_id: int, line_id: int, label: str) -> Line | None:
        """Label the account's line; None when it has no such line."""
        async with self._engine.begin() as conn:
            done = await conn.execute(
                update(lines)
                .where(lines.c.id == line_id, lines.c.account_id == account_id)
                .values(label=label[:MAX_LABEL])
            )
        return await self.get(account_id, line_id) if done.rowcount == 1 else None

    async def verify(self, account_id: int, number: str, when: datetime) -> int | None:
        """The account proved it holds ``number``'s SIM: its unverified line of that
        number is verified. Returns the account's seq when a line changed: the epoch
        changes in the same transaction, so open browsers refetch and see the line's
        conversations (stored before, with seqs their cursors are past)."""
        return await runner(self._engine).write(_verify, account_id, number, when)

    async def set_verified(self, account_id: int, number: str, when: datetime) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                update(lines)
                .where(lines.c.account_id == account_id, lines.c.number == number)
                .values(verified_at=when)
            )


def _line(row: object) -> Line:
    m = row._mapping  # type: ignore[attr-defined]
    return Line(
        id=m["id"],
        account_id=m["account_id"],
        number=m["number"],
        label=m["label"],
        verified=m["verified_at"] is not None,
    )


def _verify(conn: Connection, account_id: int, number: str, when: datetime) -> int | None:
    done = conn.execute(
        update(lines)
        .where(
            lines.c.account_id == account_id,
            lines.c.number == number,
            lines.c.verified_at.is_(None),
        )
        .values(verified_at=when)
    )
    return rotate_epoch(conn, account_id) if done.rowcount == 1 else None
