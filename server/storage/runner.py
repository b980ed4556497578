"""Run a whole transaction as one call to the database, off the event loop.

Through aiosqlite every statement is a round trip between the event loop and
aiosqlite's thread, several per statement (cursor, execute, fetch, close); a batch
ingest of seven statements paid far more in those hops than in SQLite itself. Here the
transaction is a plain synchronous function over a SQLAlchemy ``Connection``::

    def work(conn: Connection, account_id: int) -> int: ...   # no awaits inside
    result = await runner(engine).write(work, account_id)
    rows = await runner(engine).read(look, account_id)

On SQLite, writes run in one dedicated thread with its own synchronous connection to the
same file, opened with ``BEGIN IMMEDIATE``: the write lock is taken up front, so a
concurrent writer waits out the busy timeout instead of failing at once with "database
is locked" when a read transaction tries to become a write. Reads run on two reader
threads with connections of their own (WAL: readers never wait for the writer). On any
other backend both run in a greenlet on an async connection
(``AsyncConnection.run_sync``), where every statement is a network round trip anyway.

On PostgreSQL, writes run in READ COMMITTED: every writer of an account's data takes
the account's row first (``epochs.lock_account``) and holds it until commit, so an
account's writers commit one after another, in the order of the seqs they take. Reads
run in REPEATABLE READ, READ ONLY: like a SQLite read transaction, all their statements
see one snapshot, so a change set's seq and its rows agree.
"""

from __future__ import annotations

import asyncio
import threading
import time
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

__all__ = ["Runner", "runner"]

#: Reader threads (and connections) per SQLite database.
READERS = 2

# ---- metrics hook (server/metrics.py): kept apart from the transaction logic below.
#: Called on the event loop after each transaction with its kind ("read" or "write")
#: and the seconds it took (inside the database thread, or the whole async round trip).
TransactionHook = Callable[[str, float], None]
_hook: TransactionHook | None = None
_KINDS = ("write", "read")


def set_transaction_hook(hook: TransactionHook | None) -> None:
    """Have ``hook(kind, seconds)`` called after every transaction (None: stop)."""
    global _hook
    _hook = hook


def _timed(fn: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    return fn(), time.perf_counter() - started


def _report(which: int, seconds: float) -> None:
    if _hook is not None:
        _hook(_KINDS[which], seconds)


# ---- end of the metrics hook


class Runner:
    """Runs transactions for one database; see the module docstring."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._async = engine
        # One snapshot per read transaction (see the module docstring); the same pool.
        self._reading = (
            engine.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            if engine.dialect.name == "postgresql"
            else engine
        )
        self._threads: list[tuple[Engine, ThreadPoolExecutor]] = []
        self._in_flight: dict[Any, asyncio.Future[Any]] = {}
        # The connection each database thread holds (see _run), and all of them.
        self._held = threading.local()
        self._open: list[Connection] = []
        url = engine.url
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            sync_url = url.set(drivername="sqlite+pysqlite")
            args = {"timeout": 30, "check_same_thread": False}
            writing = create_engine(sync_url, connect_args=args, pool_size=1, max_overflow=0)
            event.listen(writing, "connect", _immediate_connect)
            event.listen(writing, "begin", _begin_immediate)
            reading = create_engine(sync_url, connect_args=args, pool_size=READERS, max_overflow=0)
            event.listen(reading, "connect", _deferred_connect)
            event.listen(reading, "begin", _begin_deferred)
            # One writer thread and connection: this process's writes queue up in order.
            self._threads = [
                (writing, ThreadPoolExecutor(1, thread_name_prefix="ferry-db-writer")),
                (reading, ThreadPoolExecutor(READERS, thread_name_prefix="ferry-db-reader")),
            ]

    async def write(
        self, fn: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run ``fn(conn, *args, **kwargs)`` in one write transaction; commit if it returns."""
        return await self._run(0, fn, *args, **kwargs)

    async def read(
        self, fn: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run ``fn(conn, *args, **kwargs)`` in one read transaction (it must not write)."""
        return await self._run(1, fn, *args, **kwargs)

    async def read_shared(
        self, fn: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """:meth:`read`, but calls with the same ``fn`` and arguments while one is in
        flight share its result (a reconnect storm of one user's tabs asks the same
        question hundreds of times at once). Nothing is cached once it has returned."""
        key = (fn, args, tuple(sorted(kwargs.items())))
        shared = self._in_flight.get(key)
        if shared is None:
            shared = asyncio.ensure_future(self.read(fn, *args, **kwargs))
            self._in_flight[key] = shared
            shared.add_done_callback(lambda _f: self._in_flight.pop(key, None))
        return await asyncio.shield(shared)

    async def _run(
        self,
        which: int,
        fn: Callable[Concatenate[Connection, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        if not self._threads:
            started = time.perf_counter()
            begin = self._async.begin() if which == 0 else self._reading.connect()
            async with begin as conn:
                result = await conn.run_sync(fn, *args, **kwargs)
            _report(which, time.perf_counter() - started)
            return result
        sync, executor = self._threads[which]

        def transaction() -> T:
            # Each thread keeps its connection: checking one out of the pool and
            # resetting it on return cost more than a small transaction itself.
            conn = getattr(self._held, "conn", None)
            if conn is None:
                conn = self._held.conn = sync.connect()
                self._open.append(conn)
            with conn.begin():
                return fn(conn, *args, **kwargs)

        loop = asyncio.get_running_loop()
        result, seconds = await loop.run_in_executor(executor, _timed, transaction)
        _report(which, seconds)
        return result

    def close(self) -> None:
        """Finish queued transactions and close the connections."""
        for _, executor in self._threads:
            executor.shutdown(wait=True)
        for conn in self._open:
            conn.close()
        for sync, _ in self._threads:
            sync.dispose()


_runners: weakref.WeakKeyDictionary[Engine, Runner] = weakref.WeakKeyDictionary()


def runner(engine: AsyncEngine) -> Runner:
    """The runner of ``engine``'s database, shared by every store of this process."""
    found = _runners.get(engine.sync_engine)
    if found is None:
        found = _runners[engine.sync_engine] = Runner(engine)
        # Closed with the engine's pool (``AsyncEngine.dispose``); a later use of the
        # engine gets a new one.
        if not event.contains(engine.sync_engine, "engine_disposed", _on_dispose):
            event.listen(engine.sync_engine, "engine_disposed", _on_dispose)
    return found


def _on_dispose(engine: Engine) -> None:
    found = _runners.pop(engine, None)
    if found is not None:
        found.close()


def _immediate_connect(dbapi_conn: Any, record: Any) -> None:
    sqlite_pragmas(dbapi_conn, record)
    # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's own is deferred).
    dbapi_conn.isolation_level = None


def _deferred_connect(dbapi_conn: Any, record: Any) -> None:
    sqlite_pragmas(dbapi_conn, record)
    dbapi_conn.isolation_level = None


def _begin_deferred(conn: Connection) -> None:
    # A real transaction even for reads: every statement of a read sees one snapshot.
    conn.exec_driver_sql("BEGIN")


def _begin_immediate(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")
