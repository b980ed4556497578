"""Cursor epochs: a browser's cursor (a seq) means something only in one history.

Every account has an ``epoch`` (``schema.accounts.epoch``). Browsers get it with the
thread list and with every ``Changes`` frame, keep it with their cursor and send it back
in ``Subscribe``; a cursor of another epoch gets ``Resync``. Restoring a backup rewinds
the seq, and new changes then reuse seqs a browser already saw with other content: a
silent gap, unless the epoch changed. So the epoch changes whenever the history may have
been rewound:

* a bridge sends a repair (it remembers acknowledgements the server forgot):
  :func:`rotate_epoch` for its account (``ConversationStore.rotate_epoch``);
* the operator says so after a restore (``ferry admin new-epoch``): :func:`rotate_all`;
* a server node finds that the database is older than it last saw it
  (``server/continuity.py``, through :func:`check_node_mark`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, exists, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from server.storage.runner import runner
from server.storage.schema import accounts, new_epoch, node_marks

_LOCK_ACCOUNT = (
    select(accounts.c.id).where(accounts.c.id == bindparam("account_id")).with_for_update()
)
_LOCK_ALL = select(accounts.c.id).order_by(accounts.c.id).with_for_update()
_ROTATE = (
    update(accounts)
    .where(accounts.c.id == bindparam("account_id"))
    .values(epoch=bindparam("epoch"), seq=accounts.c.seq + 1)
    .returning(accounts.c.seq)
)


def lock_account(conn: Connection, account_id: int) -> None:
    """Hold the account's row until commit, before a transaction reads what it will change.

    SQLite needs nothing: the runner's write transactions begin with ``BEGIN IMMEDIATE``,
    one at a time. Elsewhere (read committed) every writer of the account's data takes
    this row (taking seqs updates it), so taking it first serialises them.
    """
    if conn.dialect.name != "sqlite":
        conn.execute(_LOCK_ACCOUNT, {"account_id": account_id})


def rotate_epoch(conn: Connection, account_id: int) -> int:
    """Give the account a new epoch; returns its seq, which this takes one of so that the
    fan-out reads (and resyncs) even tabs that are up to date."""
    lock_account(conn, account_id)
    found = conn.execute(_ROTATE, {"account_id": account_id, "epoch": new_epoch()})
    return int(found.scalar_one())


def rotate_all(conn: Connection) -> int:
    """Give every account a new epoch; returns how many. One new value for all: an epoch
    only has to differ from the account's previous one."""
    if conn.dialect.name != "sqlite":
        # In id order: two nodes rotating at once must not take the rows crosswise.
        conn.execute(_LOCK_ALL)
    return int(conn.execute(update(accounts).values(epoch=new_epoch())).rowcount)


async def rotate_all_epochs(engine: AsyncEngine) -> int:
    """:func:`rotate_all` in a transaction of its own (``ferry admin new-epoch``)."""
    return await runner(engine).write(rotate_all)


def check_node_mark(
    conn: Connection, node: str, seen: str | None, mark: str, now: datetime
) -> bool:
    """Replace ``node``'s mark ``seen`` (what its data directory holds; ``None`` when it
    holds none) by ``mark``. If the database holds another mark, or none while it has
    history, it is not the database the node last wrote to: every epoch is rotated
    first. Returns whether they were."""
    held = conn.execute(select(node_marks.c.mark).where(node_marks.c.node == node)).scalar()
    if seen is None:
        # A node without a mark file: new, or its data directory was lost or restored
        # without it. Only an empty history is surely not a rewound one.
        foreign = bool(conn.execute(select(exists().where(accounts.c.seq > 0))).scalar())
    else:
        foreign = held != seen
    if foreign:
        rotate_all(conn)
    if held is None:
        conn.execute(insert(node_marks).values(node=node, mark=mark, updated_at=now))
    else:
        conn.execute(
            update(node_marks).where(node_marks.c.node == node).values(mark=mark, updated_at=now)
        )
    return foreign
