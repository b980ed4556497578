"""Acceptances of the terms and privacy notice: one row per acceptance, never changed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from server.storage.runner import runner
from server.storage.schema import terms_acceptances


@dataclass(frozen=True)
class Acceptance:
    version: str
    accepted_at: datetime


class TermsStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def accept(self, account_id: int, version: str, now: datetime) -> None:
        await runner(self._engine).write(_accept, account_id, version, now)

    async def latest(self, account_id: int) -> Acceptance | None:
        """The account's last acceptance (None: it never accepted any version)."""
        return await runner(self._engine).read(_latest, account_id)


def _accept(conn: Connection, account_id: int, version: str, now: datetime) -> None:
    conn.execute(
        terms_acceptances.insert().values(account_id=account_id, version=version, accepted_at=now)
    )


def _latest(conn: Connection, account_id: int) -> Acceptance | None:
    row = conn.execute(
        select(terms_acceptances.c.version, terms_acceptances.c.accepted_at)
        .where(terms_acceptances.c.account_id == account_id)
        .order_by(terms_acceptances.c.id.desc())
        .limit(1)
    ).first()
    return None if row is None else Acceptance(row.version, row.accepted_at)
