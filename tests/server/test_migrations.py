"""Migrations carry existing data forward (they are append-only; each is tested on data),
and schema.py describes the same tables as the migrations."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from server.storage.engine import MIGRATIONS, create_engine, migrate
from server.storage.schema import accounts, metadata


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


async def test_plaintext_bodies_from_before_encryption_are_sealed_on_start(
    tmp_path: Path, aiohttp_client
) -> None:
    from server.api.common import SERVICES
    from server.app import create_app
    from server.config import Config

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'ferry.db'}")
    await migrate(engine, "0001")
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO accounts VALUES "
                "(1, '+15550100001', 'h', '2026-01-01', '2026-01-01', 1)"
            )
        )
        await conn.execute(
            text("INSERT INTO threads VALUES (1, 1, '+1555', '2026-01-01', 1, 0, 1)")
        )
        await conn.execute(
            text(
                "INSERT INTO messages VALUES (1, 1, 1, 'in', '+1555', 'old plaintext', "
                "'received', NULL, '2026-01-01', '2026-01-01', 0, NULL, NULL, NULL, 1)"
            )
        )
    await engine.dispose()
    client = await aiohttp_client(create_app(Config(data_dir=tmp_path)))
    svc = client.app[SERVICES]
    async with svc.engine.connect() as conn:
        row = (await conn.execute(text("SELECT body, body_sealed FROM messages"))).one()
    assert row.body is None and b"old plaintext" not in row.body_sealed
    msgs, _ = await svc.conversations.thread_messages(1, 1, before=None, limit=5)
    assert [m.body for m in msgs] == ["old plaintext"]


def test_master_key_file_is_private_and_placeholders_are_refused(tmp_path: Path) -> None:
    import base64
    import stat

    import pytest

    from server.storage.sealed import MasterKeyError, load_master_key

    key = load_master_key(tmp_path, env={})
    assert stat.S_IMODE((tmp_path / "master.key").stat().st_mode) == 0o600
    assert load_master_key(tmp_path, env={}) == key  # stable across restarts
    with pytest.raises(MasterKeyError):
        load_master_key(tmp_path, env={"FERRY_MASTER_KEY": base64.b64encode(b"\0" * 32).decode()})
    with pytest.raises(MasterKeyError):
        load_master_key(tmp_path, env={"FERRY_MASTER_KEY": "not base64!"})


def test_a_different_master_key_cannot_open_bodies() -> None:
    import secrets

    import pytest

    from server.storage.sealed import BodyCipher, SealError, new_wrapped_key

    master = secrets.token_bytes(32)
    wrapped = new_wrapped_key(master, 7)
    sealed = BodyCipher(master, 7, wrapped).seal("hello")
    with pytest.raises(SealError):
        BodyCipher(secrets.token_bytes(32), 7, wrapped)
    with pytest.raises(SealError):
        BodyCipher(master, 8, wrapped)  # a key is bound to its account
    assert BodyCipher(master, 7, wrapped).open(sealed) == "hello"


def _head() -> str:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


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
            assert version == _head()
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


async def test_0003_devices_are_revoked_and_lose_their_secret_in_0004(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    try:
        await migrate(engine, "0003_lines")
        async with engine.begin() as conn:
            for sql in (
                "INSERT INTO accounts (id, phone, password_hash, phone_verified_at, created_at,"
                " seq) VALUES (1, '+15550100001', 'h', '2026-01-01', '2026-01-01', 3)",
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


async def test_0009_turns_copies_stored_per_device_into_tombstones(tmp_path: Path) -> None:
    """A re-paired bridge's repair stored history twice under the old per-device key: the
    migration keeps the oldest copy the user did not delete and tombstones the others
    with new seqs."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    try:
        await migrate(engine, "0007_attachments")
        async with engine.begin() as conn:
            for sql in (
                "INSERT INTO accounts (id, phone, password_hash, created_at, seq, min_seq)"
                " VALUES (1, '+15550100001', 'h', '2026-01-01', 6, 0)",
                "INSERT INTO lines VALUES (1, 1, '+15550100001', '', '2026-01-01', '2026-01-01')",
                "INSERT INTO devices (id, account_id, name, public_key, created_at, acked_n)"
                " VALUES (1, 1, 'old', x'01', '2026-01-01', 2)",
                "INSERT INTO devices (id, account_id, name, public_key, created_at, acked_n)"
                " VALUES (2, 1, 'paired again', x'02', '2026-01-02', 2)",
                "INSERT INTO threads (id, account_id, line_id, peer, participants, last_activity,"
                " last_message_id, unread, seq) VALUES (1, 1, 1, '+1555', '+1555', '2026-01-01',"
                " 4, 4, 4)",
            ):
                await conn.execute(text(sql))
            # "c": the user deleted the older copy; the newer one is the one they see.
            rows = [(1, 1, "a", 0), (2, 1, "b", 0), (3, 2, "a", 0), (4, 2, "b", 0)]
            rows += [(5, 1, "c", 1), (6, 2, "c", 0)]
            for mid, device, key, deleted in rows:
                await conn.execute(
                    text(
                        "INSERT INTO messages (id, account_id, thread_id, line_id, direction,"
                        " peer, body_sealed, status, timestamp, created_at, incomplete,"
                        " device_id, device_key, seq, deleted) VALUES (:id, 1, 1, 1, 'in',"
                        " '+1555', x'00', 'received', '2026-01-01', '2026-01-01', 0, :d, :k,"
                        " :id, :del)"
                    ),
                    {"id": mid, "d": device, "k": key, "del": deleted},
                )
            await conn.execute(
                text(
                    "INSERT INTO attachments (account_id, message_id, position, mime, size,"
                    " digest, data_sealed) VALUES (1, 4, 0, 'image/png', 1, x'00', x'00')"
                )
            )
        await migrate(engine)
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT id, deleted, device_key, body_sealed, seq FROM messages ORDER BY id"
                    )
                )
            ).all()
            assert [(r.id, bool(r.deleted), r.device_key) for r in rows] == [
                (1, False, "a"),
                (2, False, "b"),
                (3, True, None),
                (4, True, None),
                (5, True, None),  # it was deleted already: it only gave up its key
                (6, False, "c"),  # the copy the user sees stays
            ]
            assert rows[2].body_sealed is None and {rows[2].seq, rows[3].seq} == {7, 8}
            assert (rows[4].seq, rows[5].seq) == (5, 6)
            assert (await conn.execute(text("SELECT seq FROM accounts"))).scalar() == 8
            thread = (await conn.execute(text("SELECT last_message_id, seq FROM threads"))).one()
            assert thread.last_message_id == 2 and thread.seq == 8
            assert (await conn.execute(text("SELECT count(*) FROM attachments"))).scalar() == 0
            # From now on the key is unique per account and line, whichever device.
            with pytest.raises(IntegrityError):
                await conn.execute(
                    text(
                        "INSERT INTO messages (account_id, thread_id, line_id, direction, peer,"
                        " status, timestamp, created_at, incomplete, device_id, device_key, seq)"
                        " VALUES (1, 1, 1, 'in', '+1555', 'received', '2026-01-01', '2026-01-01',"
                        " 0, 2, 'a', 9)"
                    )
                )
    finally:
        await engine.dispose()
