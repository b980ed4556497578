"""Tombstone compaction: tombstones older than the retention age are purged by the
periodic job (on the injected clock), ``min_seq`` rises with them, and a browser whose
cursor is older gets ``resync`` while a newer cursor still gets every deletion."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import argon2
import pytest
from sqlalchemy import func, select

from server.config import Config, ConfigError
from server.storage.conversations import Inbound
from server.storage.schema import accounts, contacts, messages, seq_marks, threads
from tests.server.conftest import Env

T = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
DAY = 24 * 3600


@pytest.fixture
def config(tmp_path: Path, database_url: str | None) -> Config:
    # The compaction job runs every 50 ms here; it reads time from the fake clock.
    return Config(
        data_dir=tmp_path / "var",
        database_url=database_url,
        password_params=argon2.profiles.CHEAPEST,
        compaction_interval=0.05,
    )


async def _eventually(check: Any, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition never met"
        await asyncio.sleep(0.02)


async def _scalar(env: Env, query: Any) -> Any:
    async with env.svc.engine.connect() as conn:
        return (await conn.execute(query)).scalar()


async def _seq(env: Env) -> int:
    return await env.svc.conversations.current_seq(env.account_id)


async def _marked(env: Env) -> bool:
    """The job has recorded the account's seq as it is now."""
    top = await _scalar(env, select(func.max(seq_marks.c.seq)))
    return top == await _seq(env)


async def test_old_tombstones_are_purged_and_older_cursors_resync(env: Env) -> None:
    svc, store = env.svc, env.svc.conversations
    line = (await svc.lines.for_account(env.account_id))[0].id
    await store.ingest_inbound(
        env.account_id,
        env.device_id,
        [
            Inbound("a1", line, "+15550100002", "keep", T),
            Inbound("a2", line, "+15550100002", "deleted long ago", T),
            Inbound("b1", line, "+15550100003", "whole thread deleted long ago", T),
            Inbound("a3", line, "+15550100002", "deleted lately", T),
        ],
        T,
    )
    stored = await store.changes_since(env.account_id, 0)
    by_body = {m.body: m for m in stored.messages}
    await svc.contacts.replace(env.account_id, line, [("Bob", "+15550100003")])
    # Day 0: a message, a conversation and a contact deleted.
    await store.delete_message(env.account_id, by_body["deleted long ago"].id)
    await store.delete_thread(env.account_id, by_body["whole thread deleted long ago"].thread_id)
    await svc.contacts.replace(env.account_id, line, [])
    old_cursor = await _seq(env) - 1
    await _eventually(lambda: _marked(env))
    horizon = await _seq(env)
    assert await _scalar(env, select(accounts.c.min_seq)) == 0  # nothing old enough yet
    # 91 days later: another deletion, too young to purge.
    env.clock.advance(91 * DAY)
    await store.delete_message(env.account_id, by_body["deleted lately"].id)

    async def compacted() -> bool:
        return await _scalar(env, select(accounts.c.min_seq)) == horizon

    await _eventually(compacted)
    async with svc.engine.connect() as conn:
        left = {(r.id, r.deleted) for r in await conn.execute(select(messages))}
        thread_rows = list(await conn.execute(select(threads.c.peer, threads.c.deleted)))
        contact_rows = list(await conn.execute(select(contacts)))
    assert left == {(by_body["keep"].id, False), (by_body["deleted lately"].id, True)}
    assert [tuple(r) for r in thread_rows] == [("+15550100002", False)]
    assert contact_rows == []

    await env.login()
    state = await (await env.client.get("/api/v1/threads")).json()
    ws = await env.client.ws_connect("/api/v1/ws")
    # A cursor from before the purge might have missed a deletion: resync.
    await ws.send_str(json.dumps({"t": "subscribe", "since": old_cursor, "epoch": state["epoch"]}))
    assert json.loads((await asyncio.wait_for(ws.receive(), 10)).data)["t"] == "resync"
    # From the horizon on, nothing was purged: the later deletion still arrives.
    await ws.send_str(json.dumps({"t": "subscribe", "since": horizon, "epoch": state["epoch"]}))
    frame = json.loads((await asyncio.wait_for(ws.receive(), 10)).data)
    assert frame["t"] == "changes"
    assert [(m["id"], m["deleted"]) for m in frame["messages"]] == [
        (by_body["deleted lately"].id, True)
    ]
    await ws.close()


def test_tombstones_must_outlive_a_bridges_repair_window() -> None:
    with pytest.raises(ConfigError):
        Config.from_env({"FERRY_TOMBSTONE_DAYS": "30"})
    assert Config.from_env({"FERRY_TOMBSTONE_DAYS": "45"}).tombstone_age == timedelta(days=45)
