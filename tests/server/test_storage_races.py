"""Read-then-write store operations called at the same moment (two bridges of one
account, two nodes): each runs whole or waits, none fails, and the outcome is one of
the orders they could have run in. On PostgreSQL (read committed) that takes the
account's row lock before reading; on SQLite the runner's ``BEGIN IMMEDIATE``."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from protocol.link import generate_keypair
from server.storage.schema import contacts
from tests.server.conftest import Env

ENTRIES = [("Alice", "+15550100002"), ("Bob", "+15550100003"), ("Carol", "+15550100004")]


async def test_the_same_phonebook_from_two_bridges_at_once_is_stored_once(env: Env) -> None:
    (line,) = await env.svc.lines.for_account(env.account_id)
    seq = await env.svc.conversations.current_seq(env.account_id)
    changed = await asyncio.gather(
        *(env.svc.contacts.replace(env.account_id, line.id, ENTRIES) for _ in range(4))
    )
    # One of them added the three; the others found them there.
    assert sorted(changed) == [0, 0, 0, 3]
    async with env.svc.engine.connect() as conn:
        rows = (await conn.execute(select(contacts.c.name, contacts.c.number))).all()
    assert sorted(tuple(r) for r in rows) == sorted(ENTRIES)
    assert await env.svc.conversations.current_seq(env.account_id) == seq + 4


async def test_two_bridges_taking_a_free_line_at_once_leave_it_to_one(env: Env) -> None:
    (line,) = await env.svc.lines.for_account(env.account_id)
    _, public = generate_keypair()
    other = await env.svc.devices.create(env.account_id, "second", public, env.clock.now())
    now = env.clock.now()
    first, second = await asyncio.gather(
        env.svc.outbox.renew(env.account_id, env.device_id, [line.id], now),
        env.svc.outbox.renew(env.account_id, other, [line.id], now),
    )
    assert sorted([len(first.held), len(second.held)]) == [0, 1]
