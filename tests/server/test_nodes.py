"""Several server nodes on one database (PostgreSQL in production; the same file on
SQLite here): each keeps its own continuity mark, renewals of one never look like a
restore to another, and a database rewound to an older state is told by every node;
the operator's ``ferry admin new-epoch`` works on the shared database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from server.continuity import renew_mark
from server.storage.engine import create_engine, migrate
from server.storage.schema import accounts, node_marks

T = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def db_url(database_url: str | None, tmp_path: Path) -> str:
    return database_url or f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"


async def _epochs(engine: Any) -> list[str]:
    async with engine.connect() as conn:
        return list(
            (await conn.execute(select(accounts.c.epoch).order_by(accounts.c.id))).scalars()
        )


async def test_nodes_sharing_a_database_keep_their_own_marks_and_each_tells_a_restore(
    db_url: str, tmp_path: Path
) -> None:
    a, b = tmp_path / "node-a", tmp_path / "node-b"
    a.mkdir()
    b.mkdir()
    first, second = create_engine(db_url), create_engine(db_url)  # one per node
    try:
        await migrate(first)
        await migrate(second)
        # New nodes, an empty history: nothing to tell.
        assert await asyncio.gather(renew_mark(first, a, T), renew_mark(second, b, T)) == [
            False,
            False,
        ]
        async with first.begin() as conn:
            await conn.execute(
                accounts.insert(),
                [
                    {"phone": f"+1555010000{n}", "password_hash": "h", "created_at": T, "seq": 4}
                    for n in (1, 2)
                ],
            )
        epochs = await _epochs(first)
        for _ in range(3):  # periodic renewals, interleaved and at once
            assert await renew_mark(first, a, T) is False
            assert await asyncio.gather(renew_mark(second, b, T), renew_mark(first, a, T)) == [
                False,
                False,
            ]
        assert await _epochs(second) == epochs
        async with first.connect() as conn:
            backup = (await conn.execute(select(node_marks))).all()
        assert len(backup) == 2
        assert await renew_mark(first, a, T) is False
        assert await renew_mark(second, b, T) is False

        # The database goes back to the backup: both nodes' rows are older than their files.
        async with first.begin() as conn:
            for row in backup:
                await conn.execute(
                    update(node_marks).where(node_marks.c.node == row.node).values(mark=row.mark)
                )
        assert await renew_mark(second, b, T) is True
        rotated = await _epochs(first)
        assert all(new != old for new, old in zip(rotated, epochs, strict=True))
        assert await renew_mark(first, a, T) is True  # each node tells it, on its own
        assert await renew_mark(first, a, T) is False
        assert await renew_mark(second, b, T) is False
        # A third node without a mark file cannot vouch for a database with history.
        (tmp_path / "node-c").mkdir()
        assert await renew_mark(first, tmp_path / "node-c", T) is True
    finally:
        await first.dispose()
        await second.dispose()


@pytest.mark.postgresql_only("several nodes share PostgreSQL; SQLite is one node's database")
async def test_nodes_starting_at_once_on_an_empty_database_migrate_one_at_a_time(
    empty_url: str,
) -> None:
    engines = [create_engine(empty_url) for _ in range(3)]
    try:
        await asyncio.gather(*(migrate(engine) for engine in engines))
        async with engines[0].connect() as conn:
            assert (await conn.execute(select(accounts.c.id))).all() == []
    finally:
        for engine in engines:
            await engine.dispose()


def test_admin_new_epoch_rotates_every_account_on_the_configured_database(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    from server.cli import main

    async def setup() -> list[str]:
        engine = create_engine(db_url)
        try:
            await migrate(engine)
            async with engine.begin() as conn:
                await conn.execute(
                    accounts.insert().values(
                        phone="+15550100001", password_hash="h", created_at=T, seq=3
                    )
                )
            return await _epochs(engine)
        finally:
            await engine.dispose()

    async def epochs_now() -> list[str]:
        engine = create_engine(db_url)
        try:
            return await _epochs(engine)
        finally:
            await engine.dispose()

    before = asyncio.run(setup())
    monkeypatch.setenv("FERRY_DATABASE_URL", db_url)
    assert main(["admin", "new-epoch", "--data-dir", str(tmp_path / "var")]) == 0
    assert "1 account" in capsys.readouterr().out
    after = asyncio.run(epochs_now())
    assert len(after) == 1 and after != before
