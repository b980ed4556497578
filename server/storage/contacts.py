"""Contacts synced from the phone or SIM: one snapshot per line replaces the last.

A changed name must reach every browser's conversation list, so the same transaction
gives the affected threads a new ``seq`` (their title comes from the contact).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from server.storage.conversations import take_seqs_sync
from server.storage.epochs import lock_account
from server.storage.runner import runner
from server.storage.schema import contacts, lines, nul_free, threads
from server.storage.views import verified_lines


@dataclass(frozen=True)
class Contact:
    id: int
    name: str
    number: str
    line_id: int


class ContactStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def replace(
        self, account_id: int, line_id: int, entries: Sequence[tuple[str, str]]
    ) -> int:
        """Make the line's contacts equal ``entries`` (name, number); returns changes made.

        One write transaction that reads the line's contacts after taking the account
        (``lock_account``): two bridges sending the same phonebook at once store it once.
        """
        if self._engine.dialect.name == "postgresql":
            # Compared with stored names and numbers below: as PostgreSQL stores them.
            entries = [(nul_free(name), nul_free(number)) for name, number in entries]
        wanted: dict[str, str] = {}
        for name, number in entries:
            wanted.setdefault(number, name)
        return await runner(self._engine).write(_replace, account_id, line_id, wanted)

    async def for_account(self, account_id: int) -> list[Contact]:
        """Live contacts of the account's verified lines, by name."""
        query = (
            select(contacts.c.id, contacts.c.name, contacts.c.number, contacts.c.line_id)
            .join(lines, lines.c.id == contacts.c.line_id)
            .where(
                contacts.c.account_id == account_id,
                contacts.c.deleted.is_(False),
                contacts.c.line_id.in_(verified_lines(account_id)),
            )
            .order_by(contacts.c.name, contacts.c.number)
        )
        async with self._engine.connect() as conn:
            return [Contact(*r) for r in await conn.execute(query)]


def _replace(conn: Connection, account_id: int, line_id: int, wanted: dict[str, str]) -> int:
    """The transaction of :meth:`ContactStore.replace`."""
    lock_account(conn, account_id)
    rows = {
        r.number: r for r in conn.execute(select(contacts).where(contacts.c.line_id == line_id))
    }
    adds = [n for n in wanted if n not in rows]
    renames = [n for n, r in rows.items() if n in wanted and (r.deleted or r.name != wanted[n])]
    removals = [n for n, r in rows.items() if n not in wanted and not r.deleted]
    changed = adds + renames + removals
    if not changed:
        return 0
    seq = take_seqs_sync(conn, account_id, len(changed) + 1)
    if adds:
        conn.execute(
            insert(contacts),
            [
                {
                    "account_id": account_id,
                    "line_id": line_id,
                    "number": n,
                    "name": wanted[n],
                    "seq": seq + i,
                }
                for i, n in enumerate(adds)
            ],
        )
    for i, number in enumerate(renames + removals, start=len(adds)):
        conn.execute(
            update(contacts)
            .where(contacts.c.id == rows[number].id)
            .values(
                name=wanted.get(number, rows[number].name),
                deleted=number not in wanted,
                seq=seq + i,
            )
        )
    # Conversations with these numbers show a new title: bump them together.
    conn.execute(
        update(threads)
        .where(threads.c.account_id == account_id, threads.c.peer.in_(changed))
        .values(seq=seq + len(changed))
    )
    return len(changed)
