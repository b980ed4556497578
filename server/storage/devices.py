"""Paired bridges (devices), identified by their static X25519 public key.

A bridge proves its key in every connection's Noise handshake; the key is registered once,
through a pairing code (:mod:`server.storage.pairing`). Revoked rows stay, so a revoked key
can never be registered again (``public_key`` is unique).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.storage.schema import device_lines, devices, lines
from server.storage.util import new_id as _new_id

MAX_NAME = 100


@dataclass(frozen=True)
class Device:
    id: int
    account_id: int
    name: str
    #: Numbers of the lines this bridge serves → line ids.
    lines: dict[str, int]
    last_seen_at: datetime | None


async def insert_device(
    conn: AsyncConnection,
    account_id: int,
    name: str,
    public_key: bytes,
    now: datetime,
    line_ids: list[int] | None = None,
) -> int:
    """Register a bridge serving ``line_ids`` (default: every line of the account), inside
    the caller's transaction."""
    res = await conn.execute(
        insert(devices).values(
            account_id=account_id,
            name=name[:MAX_NAME] or "bridge",
            public_key=public_key,
            created_at=now,
        )
    )
    device_id = _new_id(res)
    if line_ids is None:
        found = await conn.execute(select(lines.c.id).where(lines.c.account_id == account_id))
        line_ids = list(found.scalars())
    if line_ids:
        await conn.execute(
            insert(device_lines), [{"device_id": device_id, "line_id": i} for i in line_ids]
        )
    return device_id


async def count_active(conn: AsyncConnection, account_id: int) -> int:
    """Non-revoked devices of the account, inside the caller's transaction."""
    query = select(func.count()).where(
        devices.c.account_id == account_id, devices.c.revoked_at.is_(None)
    )
    return int((await conn.execute(query)).scalar_one())


async def key_known(conn: AsyncConnection, public_key: bytes) -> bool:
    """Was this key ever registered (revoked or not)?"""
    query = select(devices.c.id).where(devices.c.public_key == public_key)
    return (await conn.execute(query)).first() is not None


class DeviceStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def create(
        self,
        account_id: int,
        name: str,
        public_key: bytes,
        now: datetime,
        line_ids: list[int] | None = None,
    ) -> int:
        """Register a bridge directly (tests and tools; users pair with a code)."""
        async with self._engine.begin() as conn:
            return await insert_device(conn, account_id, name, public_key, now, line_ids)

    async def by_public_key(self, public_key: bytes) -> Device | None:
        """The non-revoked device with this static key."""
        query = select(devices).where(
            devices.c.public_key == public_key, devices.c.revoked_at.is_(None)
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
            if row is None:
                return None
            served = await _served_lines(conn, [row.id])
        return _device(row, served)

    async def get(self, account_id: int, device_id: int) -> Device | None:
        """The account's non-revoked device ``device_id``."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(_owned(account_id, device_id))).first()
            if row is None:
                return None
            served = await _served_lines(conn, [row.id])
        return _device(row, served)

    async def revoke(self, account_id: int, device_id: int, now: datetime) -> bool:
        """Revoke the account's device for good; False when there is no such live device."""
        async with self._engine.begin() as conn:
            res = await conn.execute(
                update(devices)
                .where(
                    devices.c.id == device_id,
                    devices.c.account_id == account_id,
                    devices.c.revoked_at.is_(None),
                )
                .values(revoked_at=now)
            )
            return res.rowcount == 1

    async def rename(self, account_id: int, device_id: int, name: str) -> bool:
        async with self._engine.begin() as conn:
            res = await conn.execute(
                update(devices)
                .where(
                    devices.c.id == device_id,
                    devices.c.account_id == account_id,
                    devices.c.revoked_at.is_(None),
                )
                .values(name=name[:MAX_NAME])
            )
            return res.rowcount == 1

    async def is_revoked(self, device_id: int) -> bool:
        query = select(devices.c.revoked_at).where(devices.c.id == device_id)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return row is None or row.revoked_at is not None

    async def touch(self, device_id: int, now: datetime) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                update(devices).where(devices.c.id == device_id).values(last_seen_at=now)
            )

    async def for_account(self, account_id: int) -> list[Device]:
        query = (
            select(devices)
            .where(devices.c.account_id == account_id, devices.c.revoked_at.is_(None))
            .order_by(devices.c.id)
        )
        async with self._engine.connect() as conn:
            rows = list(await conn.execute(query))
            served = await _served_lines(conn, [r.id for r in rows])
        return [_device(r, served) for r in rows]


def _owned(account_id: int, device_id: int):  # type: ignore[no-untyped-def]
    return select(devices).where(
        devices.c.id == device_id,
        devices.c.account_id == account_id,
        devices.c.revoked_at.is_(None),
    )


async def _served_lines(conn: AsyncConnection, device_ids: list[int]) -> dict[int, dict[str, int]]:
    result: dict[int, dict[str, int]] = {d: {} for d in device_ids}
    rows = await conn.execute(
        select(device_lines.c.device_id, lines.c.number, lines.c.id)
        .join(lines, lines.c.id == device_lines.c.line_id)
        .where(device_lines.c.device_id.in_(device_ids))
        .order_by(lines.c.id)
    )
    for device_id, number, line_id in rows:
        result[device_id][number] = line_id
    return result


def _device(row: object, served: dict[int, dict[str, int]]) -> Device:
    m = row._mapping  # type: ignore[attr-defined]
    return Device(
        id=m["id"],
        account_id=m["account_id"],
        name=m["name"],
        lines=served.get(m["id"], {}),
        last_seen_at=m["last_seen_at"],
    )
