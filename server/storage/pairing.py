"""One-time pairing codes: created by a signed-in user, redeemed once by a new bridge.

A code lives ``ttl`` (10 minutes), is stored as its SHA-256 only, and dies when used or
after :data:`MAX_FAILURES` wrong attempts. Wrong attempts are matched to live codes by the
code's first two characters (the *selector*, stored in clear): a guess is wrong as a whole,
but it still costs every live code that shares its selector one try. An account may create
``per_hour`` codes an hour and hold ``max_devices`` devices.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from server.storage.devices import count_active, insert_device, key_known
from server.storage.schema import pairing_codes

#: Wrong attempts that kill a code.
MAX_FAILURES = 5
_SELECTOR = 2


def code_hash(code: str) -> bytes:
    return hashlib.sha256(code.encode()).digest()


@dataclass(frozen=True)
class CodeCreated:
    expires_at: datetime


@dataclass(frozen=True)
class TooManyCodes:
    retry_after: int


@dataclass(frozen=True)
class DeviceLimit:
    pass


class Refusal(enum.Enum):
    """Why a pairing attempt registered nothing."""

    #: Wrong, expired, used or dead code.
    BAD_CODE = "bad_code"
    #: The account has as many devices as allowed.
    DEVICE_LIMIT = "device_limit"
    #: The key was registered before (and since revoked): never again.
    KEY_USED = "key_used"


@dataclass(frozen=True)
class Paired:
    device_id: int
    account_id: int


class PairingStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def create(
        self,
        account_id: int,
        code: str,
        now: datetime,
        *,
        ttl: timedelta,
        per_hour: int,
        max_devices: int,
        line_id: int | None = None,
    ) -> CodeCreated | TooManyCodes | DeviceLimit:
        """Store a fresh code for the account, unless it hit a limit. The bridge paired
        with it serves ``line_id`` (None: every line the account has then)."""
        hour_ago = now - timedelta(hours=1)
        async with self._engine.begin() as conn:
            # Codes are kept an hour past expiry for the hourly limit, then forgotten.
            await conn.execute(
                delete(pairing_codes).where(pairing_codes.c.expires_at < hour_ago - ttl)
            )
            if await count_active(conn, account_id) >= max_devices:
                return DeviceLimit()
            recent = (
                await conn.execute(
                    select(func.count(), func.min(pairing_codes.c.created_at)).where(
                        pairing_codes.c.account_id == account_id,
                        pairing_codes.c.created_at > hour_ago,
                    )
                )
            ).one()
            if recent[0] >= per_hour:
                wait = recent[1] + timedelta(hours=1) - now
                return TooManyCodes(max(1, int(wait.total_seconds()) + 1))
            expires = now + ttl
            await conn.execute(
                insert(pairing_codes).values(
                    account_id=account_id,
                    selector=code[:_SELECTOR],
                    code_hash=code_hash(code),
                    created_at=now,
                    expires_at=expires,
                    failures=0,
                    line_id=line_id,
                )
            )
            return CodeCreated(expires)

    async def redeem(
        self,
        code: str,
        public_key: bytes,
        name: str,
        now: datetime,
        *,
        max_devices: int,
    ) -> Paired | Refusal:
        """Register ``public_key`` as a device of the code's account and use the code up.

        One transaction: the code is claimed with a conditional update, so two bridges
        racing with the same code cannot both pair.
        """
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    select(pairing_codes).where(pairing_codes.c.code_hash == code_hash(code))
                )
            ).first()
            if row is None:
                await conn.execute(
                    update(pairing_codes)
                    .where(
                        pairing_codes.c.selector == code[:_SELECTOR],
                        pairing_codes.c.used_at.is_(None),
                        pairing_codes.c.expires_at > now,
                    )
                    .values(failures=pairing_codes.c.failures + 1)
                )
                return Refusal.BAD_CODE
            if row.used_at is not None or row.expires_at <= now or row.failures >= MAX_FAILURES:
                return Refusal.BAD_CODE
            if await key_known(conn, public_key):
                return Refusal.KEY_USED
            if await count_active(conn, row.account_id) >= max_devices:
                return Refusal.DEVICE_LIMIT
            claimed = await conn.execute(
                update(pairing_codes)
                .where(
                    pairing_codes.c.id == row.id,
                    pairing_codes.c.used_at.is_(None),
                    pairing_codes.c.expires_at > now,
                    pairing_codes.c.failures < MAX_FAILURES,
                )
                .values(used_at=now)
            )
            if claimed.rowcount != 1:
                return Refusal.BAD_CODE
            served = [row.line_id] if row.line_id is not None else None
            device_id = await insert_device(conn, row.account_id, name, public_key, now, served)
            await conn.execute(
                update(pairing_codes)
                .where(pairing_codes.c.id == row.id)
                .values(device_id=device_id)
            )
            return Paired(device_id, row.account_id)
