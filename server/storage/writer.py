"""Run a whole write transaction as one call to the database, off the event loop.

Through aiosqlite every statement is a round trip between the event loop and
aiosqlite's thread, several per statement (cursor, execute, fetch, close); a batch
ingest of seven statements paid far more in those hops than in SQLite itself. Here the
transaction is a plain synchronous function over a SQLAlchemy ``Connection``::

    def work(conn: Connection, account_id: int) -> int: ...   # no awaits inside
    result = await writer(engine).run(work, account_id)

On SQLite it runs in one dedicated thread with its own synchronous connection to the
same file, opened with ``BEGIN IMMEDIATE``: the write lock is taken up front, so a
concurrent writer waits out the busy timeout instead of failing at once with "database
is locked" when a read transaction tries to become a write. On any other backend it
runs in a greenlet on the async connection (``AsyncConnection.run_sync``), where every
statement is a network round trip anyway.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from server.storage.engine import sqlite_pragmas

P = ParamSpec("P")
T = TypeVar("T")

__all__ = ["Writer", "writer"]


class Writer:
    """Runs write transactions for one database; see the module docstring."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._async = engine
        self._sync: Engine | None = None
        self._executor: ThreadPoolExecutor | None = None
        url = engine.url
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            self._sync = create_engine(
                url.set(drivername="sqlite+pysqlite"),
                connect_args={"timeout": 30, "check_same_thread": False},
                pool_size=1,
                max_overflow=0,
            )
            event.listen(self._sync, "connect", _immediate_connect)
            event.listen(self._sync, "begin", _begin_immediate)
            # One thread, one connection: writes from this process queue up in order.
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="ferry-db-writer")

    async def run(
        self, fn: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run ``fn(conn, *args, **kwargs)`` in one transaction; commit if it returns."""
        if self._sync is None or self._executor is None:
            async with self._async.begin() as conn:
                return await conn.run_sync(fn, *args, **kwargs)
        sync = self._sync

        def transaction() -> T:
            with sync.begin() as conn:
                return fn(conn, *args, **kwargs)

        return await asyncio.get_running_loop().run_in_executor(self._executor, transaction)

    def close(self) -> None:
        """Finish queued transactions and close the connection."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        if self._sync is not None:
            self._sync.dispose()


_writers: weakref.WeakKeyDictionary[Engine, Writer] = weakref.WeakKeyDictionary()


def writer(engine: AsyncEngine) -> Writer:
    """The writer of ``engine``'s database, shared by every store of this process."""
    found = _writers.get(engine.sync_engine)
    if found is None:
        found = _writers[engine.sync_engine] = Writer(engine)
        # Closed with the engine's pool (``AsyncEngine.dispose``); a later use of the
        # engine gets a new one.
        if not event.contains(engine.sync_engine, "engine_disposed", _on_dispose):
            event.listen(engine.sync_engine, "engine_disposed", _on_dispose)
    return found


def _on_dispose(engine: Engine) -> None:
    found = _writers.pop(engine, None)
    if found is not None:
        found.close()


def _immediate_connect(dbapi_conn: Any, record: Any) -> None:
    sqlite_pragmas(dbapi_conn, record)
    # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's own is deferred).
    dbapi_conn.isolation_level = None


def _begin_immediate(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")
