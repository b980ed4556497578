"""Read-then-write operations race a running ingest (real SQLite file, real runner):
none fails ("database is locked"), and what they leave is consistent: no live message in
a deleted conversation, every summary matches its messages, seqs unique."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from server.storage.conversations import Inbound
from server.storage.schema import accounts, messages, threads
from tests.server.conftest import Env

T = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
PEERS = ("+15550100002", "+15550100003")
ROUNDS = 40


class Ingest:
    """A bridge's uploads arriving back to back into the same conversations."""

    def __init__(self, env: Env, line: int) -> None:
        self._env, self._line = env, line
        self.batches = 0
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while not self._stop.is_set():
            n = self.batches
            at = T + timedelta(milliseconds=n)  # later and later: the newest is clear
            items = [Inbound(f"in{n}.{p}", self._line, p, f"in {n}", at) for p in PEERS]
            await self._env.svc.conversations.ingest_inbound(
                self._env.account_id, self._env.device_id, items, at
            )
            self.batches += 1

    async def stop(self) -> None:
        self._stop.set()
        await self._task


async def _thread_of(env: Env, peer: str) -> int:
    async with env.svc.engine.connect() as conn:
        found = await conn.execute(select(threads.c.id).where(threads.c.peer == peer))
        return int(found.scalar_one())


async def _newest_live(env: Env, thread_id: int) -> int | None:
    async with env.svc.engine.connect() as conn:
        found = await conn.execute(
            select(messages.c.id)
            .where(messages.c.thread_id == thread_id, messages.c.deleted.is_(False))
            .order_by(messages.c.id.desc())
            .limit(1)
        )
        return found.scalar()


async def _delete_thread(env: Env, n: int) -> None:
    await env.svc.conversations.delete_thread(env.account_id, await _thread_of(env, PEERS[0]))


async def _delete_message(env: Env, n: int) -> None:
    newest = await _newest_live(env, await _thread_of(env, PEERS[0]))
    if newest is not None:
        await env.svc.conversations.delete_message(env.account_id, newest)


async def _update_thread(env: Env, n: int) -> None:
    thread_id = await _thread_of(env, PEERS[0])
    await env.svc.conversations.update_thread(
        env.account_id, thread_id, read=n % 2 == 0, archived=n % 3 == 0
    )


async def _create_outgoing(env: Env, n: int) -> None:
    line = (await env.svc.lines.for_account(env.account_id))[0].id
    at = T + timedelta(seconds=n)

    async def send(client_id: str) -> Any:
        return await env.svc.conversations.create_outgoing(
            env.account_id, line, PEERS[n % 2], f"out {n}", client_id, at
        )

    # A browser's retry racing its first try: one message, the same for both.
    first, again = await asyncio.gather(send(f"c{n}"), send(f"c{n}"))
    assert first.id == again.id


OPS: dict[str, Callable[[Env, int], Awaitable[None]]] = {
    "delete_thread": _delete_thread,
    "delete_message": _delete_message,
    "update_thread": _update_thread,
    "create_outgoing": _create_outgoing,
}


@pytest.mark.parametrize("op", OPS)
async def test_read_then_write_ops_race_an_ingest_and_stay_consistent(env: Env, op: str) -> None:
    line = (await env.svc.lines.for_account(env.account_id))[0].id
    ingest = Ingest(env, line)
    while ingest.batches < 2:  # both conversations exist
        await asyncio.sleep(0.005)
    failures: list[BaseException] = []
    for n in range(ROUNDS):
        try:
            await OPS[op](env, n)
        except LookupError:
            pass  # deleted meanwhile: a clean refusal
        except Exception as exc:  # "database is locked" and the like
            failures.append(exc)
        await asyncio.sleep(0)
    await ingest.stop()
    assert failures == []
    assert ingest.batches > ROUNDS // 4, "the ingest hardly ran alongside"
    await _check_consistent(env, whole_threads=op == "delete_thread")


async def _check_consistent(env: Env, *, whole_threads: bool) -> None:
    """``whole_threads``: messages were only ever deleted with their whole conversation,
    so every message still live is newer (by seq) than every deleted one: a message
    that arrived before a deletion went with it."""
    async with env.svc.engine.connect() as conn:
        top = (await conn.execute(select(accounts.c.seq))).scalar_one()
        msgs = list(await conn.execute(select(messages)))
        convs = list(await conn.execute(select(threads)))
    seqs = [m.seq for m in msgs]
    assert len(seqs) == len(set(seqs)), "two messages share a seq"
    assert max(seqs + [t.seq for t in convs]) <= top
    for t in convs:
        mine = [m for m in msgs if m.thread_id == t.id]
        live = [m for m in mine if not m.deleted]
        if whole_threads and live and len(live) < len(mine):
            oldest_live = min(m.seq for m in live)
            newest_gone = max(m.seq for m in mine if m.deleted)
            assert oldest_live > newest_gone, f"a message outlived its conversation {t.id}"
        if t.deleted:
            assert live == [], f"live messages in deleted conversation {t.id}"
            continue
        newest = max(live, key=lambda m: (m.timestamp, m.id), default=None)
        assert t.last_message_id == (newest.id if newest else None), f"conversation {t.id}"
        assert t.seq >= max(m.seq for m in mine), f"conversation {t.id} older than a message"
