"""Cursor epochs: a cursor from another history (a restored or repaired server) gets
``resync``, never a silent gap; the epoch changes on a repair, on the operator's
command and when a node finds its database older than it last saw it."""

from __future__ import annotations

import asyncio
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import select, update

from protocol.messages import Ack, InboundSms, Upload
from server.config import Config
from server.continuity import MARK_FILE, renew_mark
from server.hub import ChangesHint
from server.storage.conversations import Inbound
from server.storage.engine import create_engine, migrate
from server.storage.schema import accounts
from tests.server.conftest import PHONE, Env

T = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


async def _frame(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    msg = await asyncio.wait_for(ws.receive(), 10)
    assert msg.type == aiohttp.WSMsgType.TEXT, msg
    return json.loads(msg.data)  # type: ignore[no-any-return]


async def _until(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    while (frame := await _frame(ws))["t"] != kind:
        pass
    return frame


async def _snapshot(env: Env) -> dict[str, Any]:
    resp = await env.client.get("/api/v1/threads")
    assert resp.status == 200
    return await resp.json()  # type: ignore[no-any-return]


async def _ingest(env: Env, *bodies: str) -> int:
    line = (await env.svc.lines.for_account(env.account_id))[0].id
    items = [Inbound(f"k-{b}", line, "+15550100002", b, T) for b in bodies]
    result = await env.svc.conversations.ingest_inbound(env.account_id, env.device_id, items, T)
    env.svc.hub.publish(env.account_id, ChangesHint(result.seq))
    return int(result.seq)


async def test_a_cursor_of_another_epoch_gets_resync_and_nothing_until_it_subscribes_again(
    env: Env,
) -> None:
    await _ingest(env, "one", "two")
    await env.login()
    state = await _snapshot(env)
    assert state["seq"] == 2 and len(state["epoch"]) == 16
    ws = await env.client.ws_connect("/api/v1/ws")
    # A cursor the server could serve by its number (2 <= seq), but of another history.
    await ws.send_str(json.dumps({"t": "subscribe", "since": 1, "epoch": "0123456789abcdef"}))
    assert await _frame(ws) == {"t": "resync", "epoch": state["epoch"]}
    await _ingest(env, "three")
    # Not followed: the browser refetches first. Then it resumes in this epoch.
    await ws.send_str(json.dumps({"t": "ping"}))
    assert (await _frame(ws))["t"] == "pong"
    state = await _snapshot(env)
    await ws.send_str(json.dumps({"t": "subscribe", "since": 2, "epoch": state["epoch"]}))
    changes = await _frame(ws)
    assert changes["t"] == "changes" and changes["epoch"] == state["epoch"]
    assert [m["body"] for m in changes["messages"]] == ["three"]
    await _until(ws, "device")
    await _ingest(env, "four")
    live = await _until(ws, "changes")
    assert [m["body"] for m in live["messages"]] == ["four"] and live["epoch"] == state["epoch"]
    await ws.close()


async def test_a_repair_gives_a_new_epoch_and_open_tabs_resync_at_once(env: Env) -> None:
    await _ingest(env, "before the restore")
    await env.login()
    before = await _snapshot(env)
    ws = await env.client.ws_connect("/api/v1/ws")
    await ws.send_str(
        json.dumps({"t": "subscribe", "since": before["seq"], "epoch": before["epoch"]})
    )
    await _until(ws, "device")
    # The bridge knows acknowledged messages the server forgot: it sends a repair.
    dev = await env.device()
    item = InboundSms(n=1, key="k-lost", sender="+15550100002", body="lost", sent_at=T.isoformat())
    await dev.send(Upload(items=[item], repair=True))
    assert await dev.recv() == Ack(upto=1)
    await dev.close()
    resync = await _until(ws, "resync")
    after = await _snapshot(env)
    assert resync["epoch"] == after["epoch"] != before["epoch"]
    assert after["seq"] > before["seq"]
    await ws.close()


async def _account_epoch(engine: Any) -> str:
    async with engine.connect() as conn:
        return str((await conn.execute(select(accounts.c.epoch))).scalar_one())


async def test_a_database_older_than_the_node_last_saw_is_told_and_every_epoch_rotates(
    tmp_path: Path,
) -> None:
    db = tmp_path / "ferry.db"
    url = f"sqlite+aiosqlite:///{db}"
    engine = create_engine(url)
    await migrate(engine)
    assert await renew_mark(engine, tmp_path, T) is False  # a new node, an empty database
    async with engine.begin() as conn:
        await conn.execute(
            accounts.insert().values(phone=PHONE, password_hash="h", created_at=T, seq=5)
        )
    assert await renew_mark(engine, tmp_path, T) is False  # periodic renewal
    epoch = await _account_epoch(engine)
    await engine.dispose()  # a clean stop checkpoints the WAL into ferry.db
    shutil.copy(db, tmp_path / "backup.db")

    engine = create_engine(url)  # a restart on the same database: nothing to tell
    assert await renew_mark(engine, tmp_path, T) is False
    assert await _account_epoch(engine) == epoch
    async with engine.begin() as conn:
        await conn.execute(update(accounts).values(seq=9))
    assert await renew_mark(engine, tmp_path, T) is False  # at shutdown
    await engine.dispose()

    for suffix in ("", "-wal", "-shm"):
        (tmp_path / f"ferry.db{suffix}").unlink(missing_ok=True)
    shutil.copy(tmp_path / "backup.db", db)  # restored from the backup
    engine = create_engine(url)
    assert await renew_mark(engine, tmp_path, T) is True
    assert await _account_epoch(engine) != epoch
    restored = await _account_epoch(engine)
    assert await renew_mark(engine, tmp_path, T) is False  # told once
    # A node that lost its data directory cannot vouch for a database with history.
    (tmp_path / MARK_FILE).unlink()
    assert await renew_mark(engine, tmp_path, T) is True
    assert await _account_epoch(engine) != restored
    await engine.dispose()


def test_admin_new_epoch_rotates_every_account(tmp_path: Path, capsys: Any) -> None:
    from server.cli import main

    async def setup() -> str:
        engine = create_engine(Config(data_dir=tmp_path).db_url)
        await migrate(engine)
        async with engine.begin() as conn:
            await conn.execute(
                accounts.insert().values(phone=PHONE, password_hash="h", created_at=T, seq=3)
            )
        epoch = await _account_epoch(engine)
        await engine.dispose()
        return epoch

    async def epoch_now() -> str:
        engine = create_engine(Config(data_dir=tmp_path).db_url)
        try:
            return await _account_epoch(engine)
        finally:
            await engine.dispose()

    before = asyncio.run(setup())
    assert main(["admin", "new-epoch", "--data-dir", str(tmp_path)]) == 0
    assert "1 account" in capsys.readouterr().out
    assert asyncio.run(epoch_now()) != before
