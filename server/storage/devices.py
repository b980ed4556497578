"""Paired bridges (devices) and their credentials.

Until the pairing issue lands, a device authenticates with a 256-bit random secret
created by ``ferry admin add-device``; only its SHA-256 is stored and it is compared in
constant time. The Noise handshake will replace the secret with a static key.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.storage.schema import device_lines, devices, lines
from server.storage.util import new_id as _new_id


@dataclass(frozen=True)
class Device:
    id: int
    account_id: int
    name: str
    #: Numbers of the lines this bridge serves → line ids.
    lines: dict[str, int]
    last_seen_at: datetime | None


def _hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


class DeviceStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def create(
        self,
        account_id: int,
        name: str,
        secret: str,
        now: datetime,
        line_ids: list[int] | None = None,
    ) -> int:
        """Register a bridge serving ``line_ids`` (default: every line of the account)."""
        async with self._engine.begin() as conn:
            res = await conn.execute(
                insert(devices).values(
                    account_id=account_id,
                    name=name[:100],
                    secret_hash=_hash(secret),
                    created_at=now,
                )
            )
            device_id = _new_id(res)
            if line_ids is None:
                found = await conn.execute(
                    select(lines.c.id).where(lines.c.account_id == account_id)
                )
                line_ids = list(found.scalars())
            if line_ids:
                await conn.execute(
                    insert(device_lines),
                    [{"device_id": device_id, "line_id": i} for i in line_ids],
                )
            return device_id

    async def authenticate(self, device_id: int, secret: str) -> Device | None:
        """The device if ``secret`` is its credential and it is not revoked."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(devices).where(devices.c.id == device_id))).first()
            served = await _served_lines(conn, [device_id])
        # Hash even when the device is unknown so timing does not tell which ids exist.
        expected = row._mapping["secret_hash"] if row is not None else b"\0" * 32
        ok = hmac.compare_digest(expected, _hash(secret))
        if row is None or not ok or row._mapping["revoked_at"] is not None:
            return None
        return _device(row, served)

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
