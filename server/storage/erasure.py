"""Deleting an account: its data key first, then everything else.

:func:`erase` is one write transaction that makes the account's content unreadable and
the account unusable at once:

* the wrapped data key is set to NULL (crypto-shredding: every sealed body, attachment
  and attachment name of the account, in this database, its WAL, its backups and any
  copy of them, can no longer be opened by anyone, operator included);
* the number is free again (the account's and its lines' numbers become
  ``deleted:<id>``), so it can sign up anew into an empty account;
* every session, pairing code and verification code is deleted, every bridge revoked,
  every line lease dropped; profile fields are emptied.

The caller then closes the account's sockets on every node and forgets the cached key
(``Services.delete_account``). The rows themselves go in the background
(:func:`purge_deleted`): messages in batches (their attachments, outbox rows and
conflicts by cascade), then the account row, which takes every other row with it. On
SQLite, ``secure_delete`` (``engine.sqlite_pragmas``) zeroes what a delete frees, and
the WAL is checkpointed and truncated afterwards, so neither file keeps a readable copy
of what was purged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from server.log import storage_logger
from server.storage.epochs import lock_account
from server.storage.runner import runner
from server.storage.schema import (
    accounts,
    devices,
    line_leases,
    lines,
    messages,
    oauth_grants,
    pairing_codes,
    sessions,
    verification_codes,
)

#: Messages deleted per transaction while purging.
PURGE_BATCH = 500

#: No argon2 hash looks like this: no password ever matches a deleted account.
_NO_PASSWORD = "!"  # noqa: S105

_log = storage_logger.getChild("erasure")

#: How long the WAL checkpoint after a purge waits for readers and writers.
_CHECKPOINT_WAIT_MS = 1000
#: Databases (by URL) whose WAL still holds pages from before a purge.
_untruncated: set[str] = set()


@dataclass(frozen=True)
class Erased:
    """What the deletion ended: session handles (their sockets close) and bridges."""

    sessions: list[str]
    devices: list[int]


async def erase(engine: AsyncEngine, account_id: int, now: datetime) -> Erased:
    """Destroy the account's data key and end everything of it (see the module).

    Raises:
        LookupError: no such account, or it was deleted already.
    """
    return await runner(engine).write(_erase, account_id, now)


def _erase(conn: Connection, account_id: int, now: datetime) -> Erased:
    lock_account(conn, account_id)
    live = conn.execute(
        select(accounts.c.id).where(accounts.c.id == account_id, accounts.c.deleted_at.is_(None))
    ).first()
    if live is None:
        raise LookupError(account_id)
    # The key first: from this statement on, nothing sealed of the account opens.
    conn.execute(
        update(accounts)
        .where(accounts.c.id == account_id)
        .values(
            data_key=None,
            deleted_at=now,
            phone=f"deleted:{account_id}",
            password_hash=_NO_PASSWORD,
            email=None,
            display_name=None,
            troubleshoot_until=None,
        )
    )
    handles = [
        bytes(h).hex()
        for h in conn.execute(
            select(sessions.c.id_hash).where(sessions.c.account_id == account_id)
        ).scalars()
    ]
    conn.execute(delete(sessions).where(sessions.c.account_id == account_id))
    conn.execute(delete(pairing_codes).where(pairing_codes.c.account_id == account_id))
    conn.execute(delete(verification_codes).where(verification_codes.c.account_id == account_id))
    # Apps' access ends with the deletion, not with the purge: their tokens are checked
    # against a live grant on every request, and their sockets close at the next sweep.
    conn.execute(
        update(oauth_grants)
        .where(oauth_grants.c.account_id == account_id, oauth_grants.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    line_ids = list(
        conn.execute(select(lines.c.id).where(lines.c.account_id == account_id)).scalars()
    )
    if line_ids:
        conn.execute(delete(line_leases).where(line_leases.c.line_id.in_(line_ids)))
        for line_id in line_ids:
            conn.execute(
                update(lines)
                .where(lines.c.id == line_id)
                .values(number=f"deleted:{line_id}", label="", verified_at=None)
            )
    revoked = list(
        conn.execute(
            update(devices)
            .where(devices.c.account_id == account_id, devices.c.revoked_at.is_(None))
            .values(revoked_at=now, name="")
            .returning(devices.c.id)
        ).scalars()
    )
    return Erased(handles, [int(d) for d in revoked])


async def purge_deleted(engine: AsyncEngine) -> int:
    """Delete every row of every deleted account; returns how many accounts went."""
    run = runner(engine)
    doomed = await run.read(_deleted_accounts)
    for account_id in doomed:
        while not await run.write(_purge_batch, account_id, PURGE_BATCH):
            pass
    key = str(engine.url)
    if doomed or key in _untruncated:
        _untruncated.add(key)
        if await _truncate_wal(engine):
            _untruncated.discard(key)
    if doomed:
        _log.info("purged %d deleted account(s)", len(doomed))
    return len(doomed)


def _deleted_accounts(conn: Connection) -> list[int]:
    query = select(accounts.c.id).where(accounts.c.deleted_at.is_not(None)).order_by(accounts.c.id)
    return [int(a) for a in conn.execute(query).scalars()]


def _purge_batch(conn: Connection, account_id: int, limit: int) -> bool:
    """One transaction: up to ``limit`` messages, or (none left) the account row with
    everything else of it. Returns whether the account is gone."""
    lock_account(conn, account_id)
    ids = list(
        conn.execute(
            select(messages.c.id).where(messages.c.account_id == account_id).limit(limit)
        ).scalars()
    )
    if ids:
        conn.execute(delete(messages).where(messages.c.id.in_(ids)))
        return False
    conn.execute(
        delete(accounts).where(accounts.c.id == account_id, accounts.c.deleted_at.is_not(None))
    )
    return True


async def _truncate_wal(engine: AsyncEngine) -> bool:
    """SQLite: copy the WAL into the database and empty it, so the WAL keeps no page
    from before the purge. Waits at most a second for readers and writers in flight
    (the connection's usual 30 s would hold up a shutdown); returns whether it was done,
    and :func:`purge_deleted` tries again on its next run when it was not."""
    if engine.dialect.name != "sqlite":
        return True
    async with engine.connect() as conn:
        await conn.exec_driver_sql(f"PRAGMA busy_timeout={_CHECKPOINT_WAIT_MS}")
        try:
            busy = (await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")).first()
        finally:
            await conn.exec_driver_sql("PRAGMA busy_timeout=30000")
            await conn.commit()
    done = busy is None or not busy[0]
    if not done:
        _log.info("the WAL could not be truncated now (a reader or writer is busy); later")
    return done
