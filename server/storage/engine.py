"""Database engine: creation, SQLite pragmas, migrations on start.

SQLite runs in WAL mode with ``synchronous=FULL``: the server acknowledges a bridge's
upload only after commit, so a commit must survive power loss. PostgreSQL
(``postgresql+asyncpg://user:password@host/db``) is shared by every node of a
deployment: each migrates on start, one at a time (an advisory lock), and the whole
upgrade is one transaction there (PostgreSQL's DDL is transactional).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

MIGRATIONS = Path(__file__).parent / "migrations"

#: The advisory lock key nodes take to migrate one at a time (any constant; "ferry-mg").
MIGRATION_LOCK = 0x666572727900_6D67


def create_engine(url: str) -> AsyncEngine:
    """Create the async engine for ``url`` (``sqlite+aiosqlite:///...`` or PostgreSQL)."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_pre_ping=True)


def sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    # What a delete or update frees is overwritten with zeros, not left readable in free
    # space: deleted accounts, tombstoned and masked messages (storage/erasure.py).
    cur.execute("PRAGMA secure_delete=ON")
    cur.close()


_LOCK = text("SELECT pg_advisory_xact_lock(:key)")


def _upgrade(connection: Connection, revision: str) -> None:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)


async def migrate(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database to ``revision`` (default: the newest; idempotent).

    On SQLite, foreign keys are off while migrating: Alembic's batch mode rebuilds a table
    by copying and dropping it, and a live ``ON DELETE CASCADE`` would empty its children.
    The keys are checked once the migration is done.
    """
    sqlite = engine.dialect.name == "sqlite"
    async with engine.connect() as conn:
        if sqlite:
            # Must run outside a transaction, or SQLite ignores it.
            await conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            await conn.commit()
        try:
            async with conn.begin():
                if engine.dialect.name == "postgresql":
                    # Held until commit: a node starting meanwhile waits, then finds
                    # the database at head.
                    await conn.execute(_LOCK, {"key": MIGRATION_LOCK})
                await conn.run_sync(_upgrade, revision)
            if sqlite:
                broken = (await conn.exec_driver_sql("PRAGMA foreign_key_check")).all()
                if broken:
                    raise RuntimeError(f"migration left {len(broken)} broken foreign keys")
        finally:
            if sqlite:
                await conn.rollback()
                await conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                await conn.commit()
