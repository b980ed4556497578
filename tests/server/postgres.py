"""The PostgreSQL leg of the storage tests: one scratch database per test run.

``FERRY_TEST_POSTGRES_URL`` names a server and a database to connect to for
administration (default: the local server's ``test`` database, trust auth). A run
creates ``ferry_test_<random>`` there, migrates it to head once, empties it before each
test (``TRUNCATE … RESTART IDENTITY``: ids start at 1 as on a new SQLite file) and drops
it at the end. Tests of migrations get ``ferry_test_<random>_m``, whose schema is dropped
and made anew before each (an empty database in milliseconds; ``CREATE`` and ``DROP
DATABASE`` cost most of a second each, a checkpoint every time).

Nothing here runs on the test's event loop: each call runs in a thread of its own with
its own loop, so sync and async tests use it alike.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import asyncpg
from sqlalchemy.engine import make_url

from server.storage.engine import create_engine, migrate
from server.storage.schema import metadata

T = TypeVar("T")

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
ENV = "FERRY_TEST_POSTGRES_URL"


def admin_url() -> tuple[str, bool]:
    """The administration URL, and whether it was given explicitly."""
    given = os.environ.get(ENV, "").strip()
    return (given or DEFAULT_URL), bool(given)


def shown(url: str) -> str:
    """``url`` without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def dsn(url: str, database: str | None = None) -> str:
    """asyncpg's form of a SQLAlchemy URL (optionally of another database)."""
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def run(fn: Callable[[], Awaitable[T]]) -> T:
    """Run ``fn()`` to completion on a loop of its own, in a thread of its own."""
    with ThreadPoolExecutor(1, thread_name_prefix="ferry-test-pg") as pool:
        return pool.submit(asyncio.run, fn()).result()  # type: ignore[arg-type]


async def reachable(url: str) -> str | None:
    """None if a connection to ``url`` works, else why not (one line)."""
    try:
        conn = await asyncpg.connect(dsn(url), timeout=5)
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    await conn.close()
    return None


class Postgres:
    """The run's databases on one PostgreSQL server."""

    def __init__(self, admin: str) -> None:
        self._admin = admin
        self.name = f"ferry_test_{secrets.token_hex(6)}"
        self._scratch = f"{self.name}_m"
        url = make_url(admin).set(drivername="postgresql+asyncpg")
        #: The run's database, migrated to head (emptied by :meth:`reset`).
        self.url = url.set(database=self.name).render_as_string(hide_password=False)
        self._scratch_url = url.set(database=self._scratch).render_as_string(hide_password=False)
        self._tables = ", ".join(t.name for t in metadata.sorted_tables)

    def create(self) -> None:
        async def go() -> None:
            conn = await asyncpg.connect(dsn(self._admin))
            try:
                await conn.execute(f'CREATE DATABASE "{self.name}"')
                await conn.execute(f'CREATE DATABASE "{self._scratch}"')
            finally:
                await conn.close()
            engine = create_engine(self.url)
            try:
                await migrate(engine)
            finally:
                await engine.dispose()

        run(go)

    def drop(self) -> None:
        async def go() -> None:
            conn = await asyncpg.connect(dsn(self._admin))
            try:
                for name in (self.name, self._scratch):
                    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await conn.close()

        run(go)

    def reset(self) -> None:
        """Empty every table of the run's database (a test's leftovers go)."""
        run(lambda: self._exclusive(self.name, f"TRUNCATE {self._tables} RESTART IDENTITY"))

    def empty(self) -> str:
        """The URL of an empty database (no tables, no Alembic version)."""
        run(
            lambda: self._exclusive(
                self._scratch, "DROP SCHEMA public CASCADE; CREATE SCHEMA public"
            )
        )
        return self._scratch_url

    async def _exclusive(self, database: str, sql: str) -> None:
        # A connection a test left open could hold a lock forever: end it, then retry.
        conn = await asyncpg.connect(dsn(self._admin, database))
        try:
            await conn.execute("SET lock_timeout = '5s'")
            for attempt in range(3):
                try:
                    await conn.execute(sql)
                    return
                except asyncpg.LockNotAvailableError:
                    if attempt == 2:
                        raise
                    await conn.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = $1 AND pid <> pg_backend_pid()",
                        database,
                    )
        finally:
            await conn.close()

    async def connect(self) -> Any:
        """A plain asyncpg connection to the run's database (for checks)."""
        return await asyncpg.connect(dsn(self._admin, self.name))
