"""``ferry admin backup`` / ``restore`` (SQLite): a backup taken while a bridge uploads is
one consistent commit of the live database; restored into a fresh data directory it
serves the same conversations, with new cursor epochs, so a browser cursor from the lost
history gets ``resync`` instead of a silent gap. No key ever goes into a backup."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from protocol.messages import Ack, InboundSms, Upload
from server import cli, listening
from server.admin import AdminError, backup_database, create_account, restore_database
from server.app import create_app
from server.backup import BackupError, inspect
from server.config import Config
from server.health import migration_heads
from server.storage.conversations import Inbound
from server.storage.engine import create_engine
from server.storage.keys import KeyRing
from server.storage.sealed import KEY_FILE as MASTER_KEY
from server.storage.sealed import load_master_key
from tests.fakes.clock import FakeClock
from tests.server.conftest import PASSWORD, PHONE, Env, origin_of

T = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
PER_UPLOAD = 20
BULK = 5000


def _items(first: int, count: int) -> list[InboundSms]:
    return [
        InboundSms(
            n=n, key=f"k{n}", sender=f"+1555020{n % 7:04d}", body=f"text {n}", sent_at=T.isoformat()
        )
        for n in range(first, first + count)
    ]


def _query(db: Path, sql: str) -> Any:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


async def _state(client: Any) -> dict[str, Any]:
    resp = await client.get("/api/v1/threads")
    assert resp.status == 200
    return await resp.json()  # type: ignore[no-any-return]


async def test_a_backup_during_an_ingest_restores_and_old_cursors_resync(
    env: Env, aiohttp_client: Any, config: Config, tmp_path: Path
) -> None:
    # Some history first (about 5 MB), so that copying the database takes a while.
    line = (await env.svc.lines.for_account(env.account_id))[0].id
    for b in range(BULK // 1000):
        batch = [Inbound(f"bulk{b}-{n}", line, "+15550100009", "x" * 1000, T) for n in range(1000)]
        await env.svc.conversations.ingest_inbound(env.account_id, env.device_id, batch, T)
    dev = await env.device()
    acked = 0
    three = asyncio.Event()
    stop = asyncio.Event()

    async def uploading() -> None:
        nonlocal acked
        while not stop.is_set():
            first = acked + 1
            await dev.send(Upload(items=_items(first, PER_UPLOAD)))
            assert await dev.recv() == Ack(upto=first + PER_UPLOAD - 1)
            acked += PER_UPLOAD
            if acked >= 3 * PER_UPLOAD:
                three.set()

    uploader = asyncio.create_task(uploading())
    await asyncio.wait_for(three.wait(), 30)
    backup_file = tmp_path / "ferry-backup.db"
    # The backup runs in a thread while the bridge goes on uploading.
    acked_before = acked
    snapshot = await backup_database(env.svc.config, backup_file)
    acked_after = acked
    stop.set()
    await uploader
    assert acked_after > acked_before, "no upload was acknowledged during the backup"
    assert (snapshot.accounts, {snapshot.revision}) == (1, set(migration_heads()))
    assert oct(backup_file.stat().st_mode & 0o777) == "0o600"
    # One commit's worth: whole uploads, and the account's seq matches its rows.
    in_backup = _query(backup_file, "SELECT count(*) FROM messages") - BULK
    assert acked_before <= in_backup <= acked_after and in_backup % PER_UPLOAD == 0
    assert _query(backup_file, "SELECT seq FROM accounts") == _query(
        backup_file, "SELECT max(seq) FROM messages"
    )
    assert _query(backup_file, "PRAGMA integrity_check") == "ok"
    assert _query(backup_file, "PRAGMA journal_mode") == "delete"  # one file, no WAL
    # A browser that saw everything the old server stored.
    await env.login()
    seen = await _state(env.client)
    assert seen["seq"] > _query(backup_file, "SELECT seq FROM accounts")
    backup_epoch = _query(backup_file, "SELECT epoch FROM accounts")

    # The operator restores onto a new machine: keys first (kept apart), then the backup.
    fresh = replace(config, data_dir=tmp_path / "restored")
    fresh.data_dir.mkdir(mode=0o700)
    for key in (MASTER_KEY, "server.key"):
        shutil.copy2(config.data_dir / key, fresh.data_dir / key)
    restored = await restore_database(fresh, backup_file)
    assert (restored.rotated, restored.kept, restored.new_server_key) == (1, None, False)
    new_epoch = _query(fresh.data_dir / "ferry.db", "SELECT epoch FROM accounts")
    assert new_epoch != backup_epoch

    client = await aiohttp_client(create_app(fresh, clock=FakeClock()))
    client.session.headers["Origin"] = origin_of(client)
    login = {"phone": PHONE, "password": PASSWORD}
    assert (await client.post("/api/v1/session", json=login)).status == 200
    state = await _state(client)
    assert state["epoch"] == new_epoch
    bodies = set()
    for thread in state["threads"]:
        if thread["peer"] == "+15550100009":
            continue  # the bulk
        page = await (await client.get(f"/api/v1/threads/{thread['id']}/messages?limit=200")).json()
        bodies |= {m["body"] for m in page["messages"]}
    # Sealed at rest, and readable with the master key that came along.
    assert {b for b in bodies if b.startswith("text")} == {
        f"text {n}" for n in range(1, in_backup + 1)
    }
    # The old browser's cursor names seqs this history will hand out with other changes.
    ws = await client.ws_connect("/api/v1/ws")
    await ws.send_str(json.dumps({"t": "subscribe", "since": seen["seq"], "epoch": seen["epoch"]}))
    frame = json.loads((await asyncio.wait_for(ws.receive(), 10)).data)
    assert frame == {"t": "resync", "epoch": new_epoch}
    await ws.close()


async def _account_with_a_data_key(config: Config) -> None:
    """An account, and its data key wrapped by the data directory's master key (which
    only a server's start, or the first sealed message, would otherwise make)."""
    await create_account(config, PHONE, PASSWORD, verified=True)
    engine = create_engine(config.db_url)
    try:
        await KeyRing(engine, load_master_key(config.data_dir)).cipher(1)
    finally:
        await engine.dispose()


async def test_restore_refuses_while_a_server_runs_from_the_data_dir(
    config: Config, tmp_path: Path
) -> None:
    await create_account(config, PHONE, PASSWORD, verified=True)
    backup_file = tmp_path / "b.db"
    await backup_database(config, backup_file)
    before = (config.data_dir / "ferry.db").read_bytes()
    # This test's process stands in for the server: its record names a live process.
    listening.record(config.data_dir, listening.Listening("http", "127.0.0.1", 9, os.getpid()))
    with pytest.raises(BackupError, match="stop it first"):
        await restore_database(config, backup_file)
    assert (config.data_dir / "ferry.db").read_bytes() == before


async def test_restore_refuses_a_backup_its_master_key_cannot_open(
    config: Config, tmp_path: Path
) -> None:
    await _account_with_a_data_key(config)
    env_key = os.environ.pop("FERRY_MASTER_KEY", None)
    try:
        backup_file = tmp_path / "b.db"
        await backup_database(config, backup_file)
        target = replace(config, data_dir=tmp_path / "elsewhere")
        with pytest.raises(BackupError, match="no master key"):
            await restore_database(target, backup_file)
        target.data_dir.mkdir(exist_ok=True)
        (target.data_dir / MASTER_KEY).write_bytes(os.urandom(32))
        with pytest.raises(BackupError, match="does not open"):
            await restore_database(target, backup_file)
        assert not (target.data_dir / "ferry.db").exists()
    finally:
        if env_key is not None:
            os.environ["FERRY_MASTER_KEY"] = env_key


async def test_backup_never_overwrites_and_postgresql_is_pointed_to_its_tools(
    config: Config, tmp_path: Path
) -> None:
    await create_account(config, PHONE, PASSWORD, verified=True)
    taken = tmp_path / "b.db"
    taken.write_bytes(b"an older backup")
    with pytest.raises(BackupError, match="exists already"):
        await backup_database(config, taken)
    assert taken.read_bytes() == b"an older backup"
    with pytest.raises(BackupError, match="not a Ferry database"):
        inspect(taken)
    pg = replace(config, database_url="postgresql+asyncpg://ferry@db/ferry")
    with pytest.raises(AdminError, match="pg_dump"):
        await backup_database(pg, tmp_path / "new.db")
    with pytest.raises(AdminError, match="new-epoch"):
        await restore_database(pg, taken)


def test_the_commands_say_what_they_did_and_keep_the_replaced_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "var"
    asyncio.run(_account_with_a_data_key(Config(data_dir=data)))
    out = tmp_path / "nightly.db"
    assert cli.main(["admin", "backup", "--data-dir", str(data), str(out)]) == 0
    printed = capsys.readouterr()
    assert "backed up 1 account(s)" in printed.out and str(out) in printed.out
    assert "holds no keys" in printed.err and "master.key" in printed.err
    assert MASTER_KEY.encode() not in out.read_bytes()
    assert (data / MASTER_KEY).read_bytes() not in out.read_bytes()
    # Restoring over the same data directory keeps the database it replaces.
    assert cli.main(["admin", "restore", "--data-dir", str(data), str(out)]) == 0
    printed = capsys.readouterr()
    assert "restored 1 account(s)" in printed.out and "new cursor epoch for 1" in printed.out
    kept = list(data.glob("ferry.db.before-restore-*"))
    assert len(kept) == 1 and _query(kept[0], "SELECT count(*) FROM accounts") == 1
    assert cli.main(["admin", "restore", "--data-dir", str(data), str(tmp_path / "none.db")]) == 1
    assert "cannot be opened" in capsys.readouterr().err
