"""Read-then-write store operations called at the same moment (two bridges of one
account, two nodes): each runs whole or waits, none fails, and the outcome is one of
the orders they could have run in. On PostgreSQL (read committed) that takes the
account's row lock before reading; on SQLite the runner's ``BEGIN IMMEDIATE``."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from protocol.link import generate_keypair
from server.storage.schema import contacts, seq_marks
from tests.server.conftest import Env

AGE = timedelta(days=90)
DAY = 24 * 3600
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


async def test_a_change_made_while_compaction_runs_is_never_dated_before_it(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A compaction run marks every account's seq with a time; a change committed while
    the run purges must not get a mark older than itself (it would be purged too soon)."""
    from server.storage import compaction
    from server.storage.conversations import take_seqs_sync

    clock = env.clock
    await env.svc.conversations.rotate_epoch(env.account_id)  # the seq moves: marks follow
    await compaction.compact(env.svc.engine, clock.now() - AGE, clock.now)  # first mark
    clock.advance(1)
    real = compaction._purge_batch
    runs: list[int] = []

    def purge_while_the_user_writes(conn: Any, *args: Any) -> Any:
        done = real(conn, *args)
        clock.advance(DAY)  # a day later in this run (the fake clock makes it visible)
        runs.append(take_seqs_sync(conn, env.account_id, 1))  # someone's change, meanwhile
        return done

    monkeypatch.setattr(compaction, "_purge_batch", purge_while_the_user_writes)
    await compaction.compact(env.svc.engine, clock.now() + AGE, clock.now)
    async with env.svc.engine.connect() as conn:
        top, at = (
            await conn.execute(
                select(seq_marks.c.seq, seq_marks.c.at).order_by(seq_marks.c.seq.desc())
            )
        ).first()
    assert runs == [top] == [await env.svc.conversations.current_seq(env.account_id)]
    assert at == clock.now()  # not the run's start, a day before the change
