"""Retention: an account's messages older than its ``retention_days`` are deleted.

Deleted the way a user deletes them (``conversations._delete_message``): the body is
erased, attachments deleted, a send not yet handed to a bridge cancelled, and the
message becomes a tombstone with a new seq, so open browsers drop it too; a
conversation left without messages becomes a tombstone as well. Tombstone compaction
(``compaction.py``) removes the rows later. Age is the message's own time. Each batch is
one write transaction, so an ingest never waits long behind a large expiry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from server.storage import attachments as mms
from server.storage.conversations import (
    _TOMBSTONE,
    _cancel_outbox,
    _refresh_threads_sync,
    take_seqs_sync,
)
from server.storage.epochs import lock_account
from server.storage.runner import runner
from server.storage.schema import accounts, messages, threads

#: Messages expired per transaction.
BATCH = 500


@dataclass
class Expired:
    """What one run did: messages deleted, and each touched account's seq after it."""

    messages: int = 0
    seqs: dict[int, int] = field(default_factory=dict)


async def expire(engine: AsyncEngine, now: datetime) -> Expired:
    """Delete every account's messages older than its retention (see the module)."""
    run = runner(engine)
    done = Expired()
    for account_id, days in await run.read(_with_retention):
        cutoff = now - timedelta(days=days)
        while True:
            count, seq = await run.write(_expire_batch, account_id, cutoff, BATCH)
            done.messages += count
            if seq is not None:
                done.seqs[account_id] = seq
            if count < BATCH:
                break
    return done


def _with_retention(conn: Connection) -> list[tuple[int, int]]:
    query = select(accounts.c.id, accounts.c.retention_days).where(
        accounts.c.retention_days.is_not(None), accounts.c.deleted_at.is_(None)
    )
    return [(int(a), int(d)) for a, d in conn.execute(query)]


def _expire_batch(
    conn: Connection, account_id: int, cutoff: datetime, limit: int
) -> tuple[int, int | None]:
    lock_account(conn, account_id)
    rows = conn.execute(
        select(messages.c.id, messages.c.thread_id)
        .where(
            messages.c.account_id == account_id,
            messages.c.deleted.is_(False),
            messages.c.timestamp < cutoff,
        )
        .order_by(messages.c.id)
        .limit(limit)
    ).all()
    if not rows:
        return 0, None
    ids = [r.id for r in rows]
    seq = take_seqs_sync(conn, account_id, len(ids))
    conn.execute(_TOMBSTONE, [{"message_id": m, "new_seq": seq + n} for n, m in enumerate(ids)])
    mms.delete_for(conn, ids)
    _cancel_outbox(conn, ids)
    touched = {r.thread_id for r in rows}
    _refresh_threads_sync(conn, touched)
    # A conversation with nothing left goes too (its seq is one of this batch's).
    live = exists().where(messages.c.thread_id == threads.c.id, messages.c.deleted.is_(False))
    conn.execute(
        update(threads)
        .where(threads.c.id.in_(touched), threads.c.deleted.is_(False), ~live)
        .values(deleted=True, unread=0)
    )
    return len(ids), seq + len(ids) - 1
