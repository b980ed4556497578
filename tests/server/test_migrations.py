"""Migrations carry existing data forward (they are append-only; each is tested on data),
and schema.py describes the same tables as the migrations. Every test here runs on SQLite
and on PostgreSQL, each from an empty database (``empty_url``)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Boolean,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from server.storage.conversations import ConversationStore, Inbound
from server.storage.engine import MIGRATIONS, create_engine, migrate
from server.storage.keys import KeyRing
from server.storage.schema import accounts, metadata

T = datetime(2026, 1, 1, tzinfo=UTC)


async def test_0001_data_upgrades_to_head_with_lines(empty_url: str) -> None:
    engine = create_engine(empty_url)
    try:
        await migrate(engine, "0001")
        async with engine.begin() as conn:
            for sql in (
                "INSERT INTO accounts VALUES "
                "(1, '+15550100001', 'h', '2026-01-01', '2026-01-01', 3)",
                "INSERT INTO devices VALUES (1, 1, 'b', :blob, '2026-01-01', NULL, NULL)",
                "INSERT INTO threads VALUES (1, 1, '+15550100002', '2026-01-01', 1, 1, 2)",
                "INSERT INTO messages VALUES (1, 1, 1, 'in', '+15550100002', 'hello', 'received',"
                " NULL, '2026-01-01', '2026-01-01', :no, 1, 'k', NULL, 1)",
            ):
                await conn.execute(text(sql), _binds(sql))
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


def _binds(sql: str) -> dict[str, Any]:
    """The portable binds of a statement: bytes and booleans as parameters, since SQLite's
    ``x'00'`` and ``0`` are a bit string and an integer on PostgreSQL."""
    binds = {"blob": b"\0", "other": b"\2", "no": False}
    return {k: v for k, v in binds.items() if f":{k}" in sql}


async def test_plaintext_bodies_from_before_encryption_are_sealed_on_start(
    tmp_path: Path, empty_url: str, aiohttp_client
) -> None:
    from server.api.common import SERVICES
    from server.app import create_app
    from server.config import Config

    engine = create_engine(empty_url)
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
                "'received', NULL, '2026-01-01', '2026-01-01', :no, NULL, NULL, NULL, 1)"
            ),
            {"no": False},
        )
    await engine.dispose()
    client = await aiohttp_client(create_app(Config(data_dir=tmp_path, database_url=empty_url)))
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


async def test_upgrade_from_0001_keeps_data(empty_url: str) -> None:
    engine = create_engine(empty_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade_to("0001"))
            await conn.execute(
                text(
                    "INSERT INTO accounts (phone, password_hash, created_at, seq) "
                    "VALUES ('+15550100001', 'h', '2026-01-01', 0)"
                )
            )
        await migrate(engine)
        async with engine.connect() as conn:
            row = (await conn.execute(select(accounts))).one()
            assert row.phone == "+15550100001" and row.email is None
            version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
            assert version == _head()
    finally:
        await engine.dispose()


async def test_schema_module_matches_migrations(empty_url: str) -> None:
    engine = create_engine(empty_url)
    try:
        await migrate(engine)
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), metadata)
            )
    finally:
        await engine.dispose()
    assert diff == []


async def test_0003_devices_are_revoked_and_lose_their_secret_in_0004(empty_url: str) -> None:
    engine = create_engine(empty_url)
    try:
        await migrate(engine, "0003_lines")
        async with engine.begin() as conn:
            for sql in (
                "INSERT INTO accounts (id, phone, password_hash, phone_verified_at, created_at,"
                " seq) VALUES (1, '+15550100001', 'h', '2026-01-01', '2026-01-01', 3)",
                "INSERT INTO devices VALUES (1, 1, 'old', :blob, '2026-01-01', '2026-01-02', NULL)",
                "INSERT INTO devices VALUES (2, 1, 'gone', :blob, '2026-01-01', NULL, "
                "'2026-01-03')",
                "INSERT INTO lines VALUES (1, 1, '+15550100001', '', '2026-01-01', '2026-01-01')",
                "INSERT INTO device_lines VALUES (1, 1)",
            ):
                await conn.execute(text(sql), _binds(sql))
        await migrate(engine)
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    text("SELECT id, name, public_key, revoked_at FROM devices ORDER BY id")
                )
            ).all()
            # Shared secrets are gone with no fallback: every old device must pair again.
            assert [(r.id, r.name, r.public_key) for r in rows] == [
                (1, "old", None),
                (2, "gone", None),
            ]
            assert all(r.revoked_at is not None for r in rows)
            assert str(rows[1].revoked_at).startswith("2026-01-03")
            columns = await conn.run_sync(lambda c: inspect(c).get_columns("devices"))
            assert "secret_hash" not in {c["name"] for c in columns}
            served = (await conn.execute(text("SELECT * FROM device_lines"))).all()
            assert [tuple(r) for r in served] == [(1, 1)]
            codes = (await conn.execute(text("SELECT count(*) FROM pairing_codes"))).scalar()
            assert codes == 0
    finally:
        await engine.dispose()


async def test_0009_turns_copies_stored_per_device_into_tombstones(empty_url: str) -> None:
    """A re-paired bridge's repair stored history twice under the old per-device key: the
    migration keeps the oldest copy the user did not delete and tombstones the others
    with new seqs."""
    engine = create_engine(empty_url)
    try:
        await migrate(engine, "0007_attachments")
        async with engine.begin() as conn:
            for sql in (
                "INSERT INTO accounts (id, phone, password_hash, created_at, seq, min_seq)"
                " VALUES (1, '+15550100001', 'h', '2026-01-01', 6, 0)",
                "INSERT INTO lines VALUES (1, 1, '+15550100001', '', '2026-01-01', '2026-01-01')",
                "INSERT INTO devices (id, account_id, name, public_key, created_at, acked_n)"
                " VALUES (1, 1, 'old', :blob, '2026-01-01', 2)",
                "INSERT INTO devices (id, account_id, name, public_key, created_at, acked_n)"
                " VALUES (2, 1, 'paired again', :other, '2026-01-02', 2)",
                "INSERT INTO threads (id, account_id, line_id, peer, participants, last_activity,"
                " last_message_id, unread, seq) VALUES (1, 1, 1, '+1555', '+1555', '2026-01-01',"
                " 4, 4, 4)",
            ):
                await conn.execute(text(sql), _binds(sql))
            # "c": the user deleted the older copy; the newer one is the one they see.
            rows = [(1, 1, "a", False), (2, 1, "b", False), (3, 2, "a", False)]
            rows += [(4, 2, "b", False), (5, 1, "c", True), (6, 2, "c", False)]
            for mid, device, key, deleted in rows:
                await conn.execute(
                    text(
                        "INSERT INTO messages (id, account_id, thread_id, line_id, direction,"
                        " peer, body_sealed, status, timestamp, created_at, incomplete,"
                        " device_id, device_key, seq, deleted) VALUES (:id, 1, 1, 1, 'in',"
                        " '+1555', :blob, 'received', '2026-01-01', '2026-01-01', :no, :d, :k,"
                        " :id, :del)"
                    ),
                    {"id": mid, "d": device, "k": key, "del": deleted, "blob": b"\0", "no": False},
                )
            await conn.execute(
                text(
                    "INSERT INTO attachments (account_id, message_id, position, mime, size,"
                    " digest, data_sealed) VALUES (1, 4, 0, 'image/png', 1, :blob, :blob)"
                ),
                {"blob": b"\0"},
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
            # From now on the key is unique per account and line, whichever device (an
            # explicit id: on PostgreSQL the id sequence never saw the rows above).
            with pytest.raises(IntegrityError):
                await conn.execute(
                    text(
                        "INSERT INTO messages (id, account_id, thread_id, line_id, direction,"
                        " peer, status, timestamp, created_at, incomplete, device_id,"
                        " device_key, seq) VALUES (9, 1, 1, 1, 'in', '+1555', 'received',"
                        " '2026-01-01', '2026-01-01', :no, 2, 'a', 9)"
                    ),
                    {"no": False},
                )
    finally:
        await engine.dispose()


# ------------------------------------------------ from every revision, with data in


def _revisions() -> list[str]:
    """Every revision, oldest first."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return [r.revision for r in reversed(list(ScriptDirectory.from_config(cfg).walk_revisions()))]


#: Values of columns whose meaning matters to the stores (by "table.column" or column);
#: every other column gets a value of its type, and a nullable one NULL.
NAMED: dict[str, Any] = {
    "phone": "+15550100001",
    "number": "+15550100001",
    "peer": "+15550100002",
    "participants": "+15550100002",
    "recipient": "+15550100002",
    "direction": "in",
    "messages.status": "received",
    "access_log.status": 200,
    "state": "pending",
    "purpose": "verify",
    "selector": "AB",
    "method": "GET",
    "mime": "image/png",
    "epoch": "0123456789abcdef",
    "min_seq": 0,
    "acked_n": 0,
    "unread": 0,
    # A body from before encryption at rest, and a verified number: served once migrated.
    "body": "hello from the past",
    "device_key": "k1",
    "phone_verified_at": T,
    "verified_at": T,
}


def _value(table: str, column: Any) -> Any:
    for key in (f"{table}.{column.name}", column.name):
        if key in NAMED:
            return NAMED[key]
    if column.nullable:
        return None
    kind = column.type
    if isinstance(kind, Boolean):
        return False
    if isinstance(kind, Integer):
        return 1
    if isinstance(kind, DateTime):
        return T
    if isinstance(kind, LargeBinary):
        return secrets.token_bytes(getattr(kind, "length", None) or 16)
    return "x"


def _seed(conn: Connection) -> dict[str, int]:
    """One row in every table of the database as it is (reflected), children pointing at
    their parents; keys come from the database, as they did in real use. Returns the row
    count per table."""
    found = MetaData()
    found.reflect(conn)
    ids: dict[str, Any] = {}
    for table in found.sorted_tables:
        if table.name == "alembic_version":
            continue
        keys = list(table.primary_key.columns)
        generated = keys[0] if len(keys) == 1 and isinstance(keys[0].type, Integer) else None
        values: dict[str, Any] = {}
        for column in table.columns:
            parent = next(iter(column.foreign_keys), None)
            if column is generated:
                continue
            if parent is not None:
                values[column.name] = ids[parent.column.table.name]
            else:
                values[column.name] = _value(table.name, column)
        result = conn.execute(table.insert().values(values))
        ids[table.name] = result.inserted_primary_key[0] if generated is not None else None
    return {name: 1 for name in ids}


async def _counts(engine: Any, names: list[str]) -> dict[str, int]:
    async with engine.connect() as conn:
        return {
            name: (
                await conn.execute(select(func.count()).select_from(metadata.tables[name]))
            ).scalar_one()
            for name in names
        }


@pytest.mark.parametrize("revision", _revisions()[:-1])
async def test_every_revision_with_data_upgrades_to_head_and_serves_it(
    empty_url: str, revision: str
) -> None:
    """A database at any earlier revision, a row in every table, upgrades to head: every
    row is still there, the old plaintext body is sealed and served, and new rows take the
    next ids and seqs after the old ones."""
    engine = create_engine(empty_url)
    try:
        await migrate(engine, revision)
        async with engine.begin() as conn:
            seeded = await conn.run_sync(_seed)
        await migrate(engine)
        assert await _counts(engine, list(seeded)) == seeded
        keys = KeyRing(engine, secrets.token_bytes(32))
        assert await keys.seal_legacy_bodies() == 1
        async with engine.connect() as conn:
            account_id, device_id, line_id = (
                await conn.execute(
                    text("SELECT accounts.id, devices.id, lines.id FROM accounts, devices, lines")
                )
            ).one()
        store = ConversationStore(engine, keys)
        (thread,), seq = await store.threads(account_id)
        assert (thread.peer, seq) == ("+15550100002", 1)
        new = Inbound("k2", line_id, "+15550100002", "hello from now", T)
        assert (await store.ingest_inbound(account_id, device_id, [new], T)).added == 1
        msgs, _ = await store.thread_messages(account_id, thread.id, before=None, limit=10)
        assert [(m.body, m.seq) for m in msgs] == [
            ("hello from the past", 1),
            ("hello from now", 2),
        ]
        assert msgs[0].id < msgs[1].id
        changes = await store.changes_since(account_id, 0)
        assert [m.body for m in changes.messages] == ["hello from the past", "hello from now"]
    finally:
        await engine.dispose()
