"""Tombstone compaction: deleted rows older than a retention age are purged, and the
account's ``min_seq`` rises with them, so a cursor from before them gets ``resync``.

Deletions are tombstones (the row stays, emptied, with a new seq) so that they reach
every browser by seq. A tombstone older than the retention age has reached every
browser still following, and one older than a bridge's repair window (30 days) can no
longer be contradicted by a re-upload: it is deleted. A browser whose cursor is older
than what was purged could miss a deletion, so ``accounts.min_seq`` is raised in the
same transaction and such a cursor gets ``resync`` instead (``views.changes_since``).

When a tombstone was made is read from its seq: each run records every account's seq
with the time (``seq_marks``), and the newest mark older than the cutoff gives the seq S
below which every change is older than the cutoff. Then, per account, in batches (each
one write transaction, so an ingest never waits long)::

    tombstones in (min_seq, S], lowest seqs first ─▶ delete ─▶ min_seq = last purged
    (S once none are left) ─▶ marks older than the cutoff are dropped
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from server.storage.epochs import lock_account
from server.storage.runner import runner
from server.storage.schema import accounts, contacts, messages, seq_marks, threads

#: Tombstones purged per transaction.
BATCH = 500

_NEW_MARKS = select(accounts.c.id, accounts.c.seq).where(
    accounts.c.seq
    > func.coalesce(
        select(func.max(seq_marks.c.seq))
        .where(seq_marks.c.account_id == accounts.c.id)
        .scalar_subquery(),
        0,
    )
)


@dataclass(frozen=True)
class Compacted:
    """What one run did: tombstones purged (messages, threads, contacts) and accounts
    whose ``min_seq`` rose."""

    purged: int = 0
    accounts: int = 0


async def compact(engine: AsyncEngine, cutoff: datetime, now: Callable[[], datetime]) -> Compacted:
    """Purge tombstones made before ``cutoff``, then mark every account's seq with the
    time ``now()`` tells once the seqs are read: a mark stamped earlier (at the run's
    start) would date a change made during the run too early, and purge it too soon."""
    run = runner(engine)
    purged = moved = 0
    for account_id in await run.read(_accounts_with_marks_before, cutoff):
        while True:
            count, done = await run.write(_purge_batch, account_id, cutoff, BATCH)
            purged += count
            if done:
                moved += 1
                break
    await run.write(_mark, now)
    return Compacted(purged, moved)


def _accounts_with_marks_before(conn: Connection, cutoff: datetime) -> list[int]:
    query = select(seq_marks.c.account_id).where(seq_marks.c.at <= cutoff).distinct()
    return list(conn.execute(query).scalars())


def _mark(conn: Connection, now: Callable[[], datetime]) -> None:
    """A mark for every account whose seq moved since its last one."""
    found = conn.execute(_NEW_MARKS).all()
    at = now()  # after the read: every seq marked was reached by then
    rows = [{"account_id": a, "seq": s, "at": at} for a, s in found]
    if rows:
        conn.execute(seq_marks.insert(), rows)


def _purge_batch(
    conn: Connection, account_id: int, cutoff: datetime, limit: int
) -> tuple[int, bool]:
    """One transaction: purge up to ``limit`` message tombstones (and the thread and
    contact tombstones up to the same seq); returns (rows purged, account finished)."""
    lock_account(conn, account_id)
    top = conn.execute(
        select(func.max(seq_marks.c.seq)).where(
            seq_marks.c.account_id == account_id, seq_marks.c.at <= cutoff
        )
    ).scalar()
    min_seq = conn.execute(select(accounts.c.min_seq).where(accounts.c.id == account_id)).scalar()
    if top is None or min_seq is None:  # nothing old enough, or the account is gone
        return 0, True
    doomed = conn.execute(
        select(messages.c.id, messages.c.seq)
        .where(
            messages.c.account_id == account_id,
            messages.c.seq > min_seq,
            messages.c.seq <= top,
            messages.c.deleted.is_(True),
        )
        .order_by(messages.c.seq)
        .limit(limit)
    ).all()
    done = len(doomed) < limit
    bound = top if done else doomed[-1].seq
    if doomed:
        # Their attachments, outbox rows and conflict records go with them (cascade).
        conn.execute(delete(messages).where(messages.c.id.in_([r.id for r in doomed])))
    # A deleted conversation goes once none of its messages is left (a live one would
    # only be there if something revived it; then it stays).
    gone = conn.execute(
        delete(threads).where(
            threads.c.account_id == account_id,
            threads.c.deleted.is_(True),
            threads.c.seq <= bound,
            ~exists().where(messages.c.thread_id == threads.c.id),
        )
    ).rowcount
    gone += conn.execute(
        delete(contacts).where(
            contacts.c.account_id == account_id,
            contacts.c.deleted.is_(True),
            contacts.c.seq <= bound,
        )
    ).rowcount
    if bound > min_seq:
        conn.execute(update(accounts).where(accounts.c.id == account_id).values(min_seq=bound))
    if done:
        conn.execute(
            delete(seq_marks).where(seq_marks.c.account_id == account_id, seq_marks.c.at <= cutoff)
        )
    return len(doomed) + gone, done
