"""Migrations carry existing data forward (they are append-only; each is tested on data)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from server.storage.engine import create_engine, migrate


async def test_0001_data_upgrades_to_head_with_lines(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    try:
        await migrate(engine, "0001")
        async with engine.begin() as conn:
            for sql in (
                "INSERT INTO accounts VALUES "
                "(1, '+15550100001', 'h', '2026-01-01', '2026-01-01', 3)",
                "INSERT INTO devices VALUES (1, 1, 'b', x'00', '2026-01-01', NULL, NULL)",
                "INSERT INTO threads VALUES (1, 1, '+15550100002', '2026-01-01', 1, 1, 2)",
                "INSERT INTO messages VALUES (1, 1, 1, 'in', '+15550100002', 'hello', 'received',"
                " NULL, '2026-01-01', '2026-01-01', 0, 1, 'k', NULL, 1)",
            ):
                await conn.execute(text(sql))
        await migrate(engine)
        async with engine.connect() as conn:
            line = (await conn.execute(text("SELECT id, number, verified_at FROM lines"))).one()
            assert line.number == "+15550100001" and line.verified_at is not None
            thread = (await conn.execute(text("SELECT line_id, participants FROM threads"))).one()
            assert tuple(thread) == (line.id, "+15550100002")
            msg = (await conn.execute(text("SELECT line_id, body FROM messages"))).one()
            assert tuple(msg) == (line.id, "hello")
            served = (await conn.execute(text("SELECT * FROM device_lines"))).all()
            assert [tuple(r) for r in served] == [(1, line.id)]
    finally:
        await engine.dispose()


async def test_0003_devices_are_revoked_and_lose_their_secret_in_0004(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    try:
        await migrate(engine, "0003_lines")
        async with engine.begin() as conn:
            for sql in (
                "INSERT INTO accounts VALUES "
                "(1, '+15550100001', 'h', '2026-01-01', '2026-01-01', 3)",
                "INSERT INTO devices VALUES (1, 1, 'old', x'00', '2026-01-01', '2026-01-02', NULL)",
                "INSERT INTO devices VALUES (2, 1, 'gone', x'01', '2026-01-01', NULL, "
                "'2026-01-03')",
                "INSERT INTO lines VALUES (1, 1, '+15550100001', '', '2026-01-01', '2026-01-01')",
                "INSERT INTO device_lines VALUES (1, 1)",
            ):
                await conn.execute(text(sql))
        await migrate(engine)
        async with engine.connect() as conn:
            rows = (
                await conn.execute(text("SELECT id, name, public_key, revoked_at FROM devices"))
            ).all()
            # Shared secrets are gone with no fallback: every old device must pair again.
            assert [(r.id, r.name, r.public_key) for r in rows] == [
                (1, "old", None),
                (2, "gone", None),
            ]
            assert all(r.revoked_at is not None for r in rows)
            assert str(rows[1].revoked_at).startswith("2026-01-03")
            columns = (await conn.execute(text("PRAGMA table_info(devices)"))).all()
            assert "secret_hash" not in {c.name for c in columns}
            served = (await conn.execute(text("SELECT * FROM device_lines"))).all()
            assert [tuple(r) for r in served] == [(1, 1)]
            codes = (await conn.execute(text("SELECT count(*) FROM pairing_codes"))).scalar()
            assert codes == 0
    finally:
        await engine.dispose()
