"""Per-account data keys: created on first use in their own transaction, cached unwrapped.

Call :meth:`KeyRing.cipher` *before* opening the transaction that needs it: a key is
created and committed on its own, so a cached key always exists in the database (a key
that only lived in a rolled-back transaction would make bodies sealed with it unreadable).
"""

from __future__ import annotations

import asyncio

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from server.storage.schema import accounts, messages
from server.storage.sealed import BodyCipher, new_wrapped_key

_BATCH = 500


class AccountDeleted(LookupError):
    """The account was deleted: its data key is gone for good and no new one is made."""


class KeyRing:
    def __init__(self, engine: AsyncEngine, master: bytes) -> None:
        self._engine = engine
        self._master = master
        self._ciphers: dict[int, BodyCipher] = {}
        self._creating: dict[int, asyncio.Lock] = {}

    async def cipher(self, account_id: int) -> BodyCipher:
        """The account's body cipher (its data key is created if it has none yet).

        Raises:
            AccountDeleted: the account is deleted (or gone): its key was destroyed.
        """
        cached = self._ciphers.get(account_id)
        if cached is not None:
            return cached
        # One creator per account in this process; the conditional UPDATE covers other
        # processes. Either way everyone uses the key that is actually stored.
        lock = self._creating.setdefault(account_id, asyncio.Lock())
        async with lock:
            cached = self._ciphers.get(account_id)
            if cached is not None:
                return cached
            async with self._engine.begin() as conn:
                await conn.execute(
                    update(accounts)
                    .where(
                        accounts.c.id == account_id,
                        accounts.c.data_key.is_(None),
                        accounts.c.deleted_at.is_(None),
                    )
                    .values(data_key=new_wrapped_key(self._master, account_id))
                )
                wrapped = (
                    await conn.execute(
                        select(accounts.c.data_key).where(
                            accounts.c.id == account_id, accounts.c.deleted_at.is_(None)
                        )
                    )
                ).scalar()
            if wrapped is None:
                self._creating.pop(account_id, None)
                raise AccountDeleted(account_id)
            cipher = BodyCipher(self._master, account_id, wrapped)
            self._ciphers[account_id] = cipher
            self._creating.pop(account_id, None)
            return cipher

    def forget(self, account_id: int) -> None:
        """Drop a cached key (its account is being deleted)."""
        self._ciphers.pop(account_id, None)

    async def seal_legacy_bodies(self) -> int:
        """Seal plaintext bodies left by databases from before encryption at rest."""
        async with self._engine.connect() as conn:
            owners = list(
                (
                    await conn.execute(
                        select(messages.c.account_id).where(messages.c.body.is_not(None)).distinct()
                    )
                ).scalars()
            )
        done = 0
        for account_id in owners:
            cipher = await self.cipher(account_id)
            while True:
                async with self._engine.begin() as conn:
                    rows = (
                        await conn.execute(
                            select(messages.c.id, messages.c.body)
                            .where(
                                messages.c.account_id == account_id, messages.c.body.is_not(None)
                            )
                            .limit(_BATCH)
                        )
                    ).all()
                    for message_id, body in rows:
                        await conn.execute(
                            update(messages)
                            .where(messages.c.id == message_id)
                            .values(body_sealed=cipher.seal(body), body=None)
                        )
                done += len(rows)
                if len(rows) < _BATCH:
                    break
        return done
