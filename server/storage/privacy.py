"""An account's privacy settings, and the inventory of what Ferry stores about it.

Settings (columns of ``accounts``): ``mask_sent`` (masking.py), ``retention_days``
(retention.py), ``troubleshoot_until`` (operators may read message contents until
then: ``server/admin_privacy.py``). The inventory counts rows and bytes, never reading
a body.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from server.storage.schema import (
    accounts,
    attachments,
    contacts,
    devices,
    lines,
    messages,
    security_events,
    sessions,
    threads,
)

#: Longest retention a user may choose (ten years), and the longest troubleshooting grant.
MAX_RETENTION_DAYS = 3650
MAX_TROUBLESHOOT_HOURS = 72


@dataclass(frozen=True)
class PrivacySettings:
    mask_sent: bool
    retention_days: int | None
    troubleshoot_until: datetime | None


@dataclass(frozen=True)
class Inventory:
    """What the server holds for the account (counts; sizes in bytes as stored)."""

    messages: int
    masked: int
    deleted: int
    threads: int
    contacts: int
    attachments: int
    attachment_bytes: int
    body_bytes: int
    lines: int
    devices: int
    sessions: int
    security_events: int


class PrivacyStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def settings(self, account_id: int) -> PrivacySettings:
        query = select(
            accounts.c.mask_sent, accounts.c.retention_days, accounts.c.troubleshoot_until
        ).where(accounts.c.id == account_id)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).one()
        return PrivacySettings(bool(row.mask_sent), row.retention_days, row.troubleshoot_until)

    async def update(self, account_id: int, **values: Any) -> None:
        """Set some of ``mask_sent``, ``retention_days``, ``troubleshoot_until``."""
        allowed = {"mask_sent", "retention_days", "troubleshoot_until"}
        if not values or not set(values) <= allowed:
            raise ValueError(f"unknown settings: {sorted(set(values) - allowed)}")
        async with self._engine.begin() as conn:
            await conn.execute(update(accounts).where(accounts.c.id == account_id).values(values))

    async def inventory(self, account_id: int) -> Inventory:
        mine = messages.c.account_id == account_id
        async with self._engine.connect() as conn:
            msg = (
                await conn.execute(
                    select(
                        func.count().filter(messages.c.deleted.is_(False)),
                        func.count().filter(messages.c.masked.is_(True)),
                        func.count().filter(messages.c.deleted.is_(True)),
                        func.coalesce(func.sum(func.length(messages.c.body_sealed)), 0),
                    ).where(mine)
                )
            ).one()
            att = (
                await conn.execute(
                    select(func.count(), func.coalesce(func.sum(attachments.c.size), 0)).where(
                        attachments.c.account_id == account_id
                    )
                )
            ).one()

            async def count(table: Any, *where: Any) -> int:
                query = select(func.count()).select_from(table).where(*where)
                return int((await conn.execute(query)).scalar_one())

            return Inventory(
                messages=int(msg[0]),
                masked=int(msg[1]),
                deleted=int(msg[2]),
                threads=await count(
                    threads, threads.c.account_id == account_id, threads.c.deleted.is_(False)
                ),
                contacts=await count(
                    contacts, contacts.c.account_id == account_id, contacts.c.deleted.is_(False)
                ),
                attachments=int(att[0]),
                attachment_bytes=int(att[1]),
                body_bytes=int(msg[3]),
                lines=await count(lines, lines.c.account_id == account_id),
                devices=await count(
                    devices, devices.c.account_id == account_id, devices.c.revoked_at.is_(None)
                ),
                sessions=await count(sessions, sessions.c.account_id == account_id),
                security_events=await count(
                    security_events, security_events.c.account_id == account_id
                ),
            )
