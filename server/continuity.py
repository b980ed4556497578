"""Telling a database restored from an older backup, so that browsers resync.

Each server node keeps a mark, a random value renewed at start-up, every
``continuity_interval`` seconds and at shutdown, in two places: the database
(``node_marks``, one row per node) and its data directory (``node-mark``: the node's id
and mark). A renewal reads the file, compares it with the database's row, writes a new
mark to both and commits::

    file mark == database mark ─▶ the database this node last wrote to: carry on
    otherwise                  ─▶ older than what this node last saw (a restored
                                  backup): every account gets a new cursor epoch

A new epoch makes every browser refetch instead of resuming a cursor whose seqs the
restored history hands out again with other changes (``server/storage/epochs.py``).
A crash between the database write and its commit also shows a mismatch: a needless
rotation, which costs each browser one refetch, never a missed change. A node with no
file (new, or its data directory lost) rotates unless the database has no history.

What this cannot see: a backup taken after the node's last renewal (then at most one
interval of changes was lost, and a cursor past the restored seq still gets ``resync``
as one from the future), and a data directory restored together with the database (the
file then matches). After such a restore, run ``ferry admin new-epoch``; a bridge that
has to repair the server also rotates its account's epoch. With several nodes
(PostgreSQL), each has its own id and row: a node started on a restored database rotates
once, whichever node it is. Nodes sharing a data directory take a file lock.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import re
import secrets
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from server.storage.epochs import check_node_mark
from server.storage.runner import runner

MARK_FILE = "node-mark"
_LINE = re.compile(r"([0-9a-f]{32}) ([0-9a-f]{32})\n?")


async def renew_mark(engine: AsyncEngine, data_dir: Path, now: datetime) -> bool:
    """Compare this node's mark with the database's, renew both; returns True if the
    database was not the one this node last wrote to (every epoch was rotated)."""
    lock = os.open(data_dir / f"{MARK_FILE}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        await asyncio.to_thread(fcntl.flock, lock, fcntl.LOCK_EX)
        return await runner(engine).write(_renew, data_dir / MARK_FILE, now)
    finally:
        os.close(lock)  # releases the lock


def _renew(conn: Connection, path: Path, now: datetime) -> bool:
    node, seen = _read(path)
    mark = secrets.token_hex(16)
    foreign = check_node_mark(conn, node, seen, mark, now)
    # Written inside the transaction, just before its commit: a failure in between can
    # only leave the file ahead of the database, which the next renewal reads as a
    # mismatch (a needless rotation), never the other way round.
    _write(path, node, mark)
    return foreign


def _read(path: Path) -> tuple[str, str | None]:
    """The node's id and last mark; a new id and no mark if the file is missing or bad."""
    try:
        found = _LINE.fullmatch(path.read_text(encoding="ascii")[:100])
    except (OSError, UnicodeError):
        found = None
    if found is None:
        return secrets.token_hex(16), None
    return found[1], found[2]


def _write(path: Path, node: str, mark: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, f"{node} {mark}\n".encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
