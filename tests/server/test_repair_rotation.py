"""A repair that changes anything gives the account a new cursor epoch in the same
transaction: if that transaction fails, nothing is stored and the bridge's second try
rotates then (a separate rotation after the commit could be lost for good)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from protocol.messages import Ack, Upload
from server.storage import conversations
from server.storage.schema import accounts
from tests.server.conftest import Env
from tests.server.test_sockets import sms


async def epoch(env: Env) -> str:
    async with env.svc.engine.connect() as conn:
        query = select(accounts.c.epoch).where(accounts.c.id == env.account_id)
        return str((await conn.execute(query)).scalar_one())


async def test_a_failed_rotation_stores_nothing_and_the_retry_rotates(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = await epoch(env)
    real = conversations.rotate_epoch
    failures = [RuntimeError("database went away")]

    def flaky(conn, account_id):  # type: ignore[no-untyped-def]
        if failures:
            raise failures.pop()
        return real(conn, account_id)

    monkeypatch.setattr(conversations, "rotate_epoch", flaky)
    repair = Upload(items=[sms(1, "forgotten by the restored server")], repair=True)
    dev = await env.device()
    await dev.send(repair)
    assert await dev.closed() == 1011  # nothing acknowledged …
    assert await epoch(env) == before
    threads, _ = await env.svc.conversations.threads(env.account_id)
    assert threads == []  # … and nothing stored
    dev = await env.device()
    await dev.send(repair)
    assert await dev.recv() == Ack(upto=1)
    assert await epoch(env) != before
    # Once per connection: a second repair batch on it keeps the epoch.
    rotated = await epoch(env)
    await dev.send(Upload(items=[sms(2, "also forgotten")], repair=True))
    assert await dev.recv() == Ack(upto=2)
    assert await epoch(env) == rotated
