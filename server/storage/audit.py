"""The staff-access audit log (``staff_access``): append and read; the chain's rules are
in :mod:`server.privacy.audit`.

Appending reads the newest row's hash and inserts the next row in one write transaction.
Two operators appending at the same moment on PostgreSQL would both read the same
predecessor: ``prev_hash`` is unique, so the second insert fails and is retried on top
of the first.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from server.privacy.audit import GENESIS, Broken, Entry, entry_hash, verify
from server.storage.runner import runner
from server.storage.schema import staff_access

_TRIES = 5
#: Rows read per query while verifying.
_PAGE = 1000


class AuditLog:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def append(
        self, at: datetime, operator: str, account_id: int | None, action: str, reason: str
    ) -> Entry:
        """Write one access to the chain."""
        for attempt in range(_TRIES):
            try:
                return await runner(self._engine).write(
                    _append, at, operator[:64], account_id, action, reason[:500]
                )
            except IntegrityError:
                if attempt == _TRIES - 1:
                    raise
        raise AssertionError("unreachable")

    async def for_account(self, account_id: int, limit: int = 100) -> list[Entry]:
        """The account's accesses, newest first."""
        query = (
            select(staff_access)
            .where(staff_access.c.account_id == account_id)
            .order_by(staff_access.c.id.desc())
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            return [_entry(r) for r in await conn.execute(query)]

    async def newest(self, limit: int = 100) -> list[Entry]:
        """Every account's accesses, newest first."""
        query = select(staff_access).order_by(staff_access.c.id.desc()).limit(limit)
        async with self._engine.connect() as conn:
            return [_entry(r) for r in await conn.execute(query)]

    async def verify(self) -> tuple[int, Broken | None, bytes]:
        """Check the whole chain: (rows checked, the first broken row or None, the newest
        hash)."""
        checked, last = 0, GENESIS
        prev = GENESIS
        after = 0
        async with self._engine.connect() as conn:
            while True:
                rows = [
                    _entry(r)
                    for r in await conn.execute(
                        select(staff_access)
                        .where(staff_access.c.id > after)
                        .order_by(staff_access.c.id)
                        .limit(_PAGE)
                    )
                ]
                if not rows:
                    return checked, None, last
                # Each page continues the chain from the previous page's last hash.
                broken = verify(rows, prev)
                if broken is not None:
                    checked += sum(1 for r in rows if r.id < broken.row_id)
                    return checked, broken, last
                checked += len(rows)
                prev = last = rows[-1].hash
                after = rows[-1].id


def _append(
    conn: Connection,
    at: datetime,
    operator: str,
    account_id: int | None,
    action: str,
    reason: str,
) -> Entry:
    prev = conn.execute(
        select(staff_access.c.hash).order_by(staff_access.c.id.desc()).limit(1)
    ).scalar()
    prev = GENESIS if prev is None else bytes(prev)
    digest = entry_hash(prev, at, operator, account_id, action, reason)
    row_id = conn.execute(
        insert(staff_access)
        .values(
            at=at,
            operator=operator,
            account_id=account_id,
            action=action,
            reason=reason,
            prev_hash=prev,
            hash=digest,
        )
        .returning(staff_access.c.id)
    ).scalar_one()
    return Entry(int(row_id), at, operator, account_id, action, reason, prev, digest)


def _entry(row: object) -> Entry:
    m = row._mapping  # type: ignore[attr-defined]
    return Entry(
        id=int(m["id"]),
        at=m["at"],
        operator=m["operator"],
        account_id=m["account_id"],
        action=m["action"],
        reason=m["reason"],
        prev_hash=bytes(m["prev_hash"]),
        hash=bytes(m["hash"]),
    )
