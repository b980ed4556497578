"""Lines: the phone numbers (SIMs) of an account, and which bridge serves which."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.storage.schema import device_lines, lines
from server.storage.util import new_id


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
    """Create a line inside the caller's transaction."""
    res = await conn.execute(
        insert(lines).values(
            account_id=account_id, number=number, label="", verified_at=verified_at, created_at=now
        )
    )
    return new_id(res)


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
