"""Migrations: 0002 upgrades a 0001 database with data in it, and schema.py describes the
same tables as the migrations."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from sqlalchemy import select, text

from server.storage.engine import MIGRATIONS, create_engine, migrate
from server.storage.schema import accounts, metadata


def _upgrade_to(revision: str):  # type: ignore[no-untyped-def]
    def run(connection):  # type: ignore[no-untyped-def]
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)

    return run


async def test_upgrade_from_0001_keeps_data(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'f.db'}")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade_to("0001"))
            await conn.execute(
                text(
                    "INSERT INTO accounts (phone, password_hash, created_at, seq) "
                    "VALUES ('+15550100001', 'h', :now, 0)"
                ),
                {"now": datetime(2026, 1, 1, tzinfo=UTC).replace(tzinfo=None)},
            )
        await migrate(engine)
        async with engine.connect() as conn:
            row = (await conn.execute(select(accounts))).one()
            assert row.phone == "+15550100001" and row.email is None
            version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
            assert version == "0002_accounts_security"
    finally:
        await engine.dispose()


async def test_schema_module_matches_migrations(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'f.db'}")
    try:
        await migrate(engine)
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), metadata)
            )
    finally:
        await engine.dispose()
    assert diff == []
