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
from sqlalchemy.ext.asyncio import AsyncEngine

from server.storage.schema import accounts, devices
from server.storage.util import new_id as _new_id


@dataclass(frozen=True)
class Device:
    id: int
    account_id: int
    name: str
    line: str
    last_seen_at: datetime | None


def _hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


class DeviceStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def create(self, account_id: int, name: str, secret: str, now: datetime) -> int:
        async with self._engine.begin() as conn:
            res = await conn.execute(
                insert(devices).values(
                    account_id=account_id,
                    name=name[:100],
                    secret_hash=_hash(secret),
                    created_at=now,
                )
            )
            return _new_id(res)

    async def authenticate(self, device_id: int, secret: str) -> Device | None:
        """The device if ``secret`` is its credential and it is not revoked."""
        query = (
            select(devices, accounts.c.phone)
            .join(accounts, accounts.c.id == devices.c.account_id)
            .where(devices.c.id == device_id)
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        # Hash even when the device is unknown so timing does not tell which ids exist.
        expected = row._mapping["secret_hash"] if row is not None else b"\0" * 32
        ok = hmac.compare_digest(expected, _hash(secret))
        if row is None or not ok or row._mapping["revoked_at"] is not None:
            return None
        return _device(row)

    async def touch(self, device_id: int, now: datetime) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                update(devices).where(devices.c.id == device_id).values(last_seen_at=now)
            )

    async def for_account(self, account_id: int) -> list[Device]:
        query = (
            select(devices, accounts.c.phone)
            .join(accounts, accounts.c.id == devices.c.account_id)
            .where(devices.c.account_id == account_id, devices.c.revoked_at.is_(None))
            .order_by(devices.c.id)
        )
        async with self._engine.connect() as conn:
            return [_device(r) for r in (await conn.execute(query))]


def _device(row: object) -> Device:
    m = row._mapping  # type: ignore[attr-defined]
    return Device(
        id=m["id"],
        account_id=m["account_id"],
        name=m["name"],
        line=m["phone"],
        last_seen_at=m["last_seen_at"],
    )
