"""The per-account seq under concurrent writers on several nodes.

Several OS processes (each a node: its own engine, pool and key ring) write into one
account at once, while a browser-style reader walks the change feed by its cursor. The
seqs must be unique and gap-free, and the walk must see every message exactly once and
in seq order, however the writers' transactions interleave and commit: a cursor at 10
must never move past an 11 that commits after a 12 was seen. Runs on both backends; on
PostgreSQL the writers really overlap (read committed, row locks).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from server.storage.accounts import AccountStore
from server.storage.conversations import ConversationStore, Inbound
from server.storage.devices import DeviceStore
from server.storage.engine import create_engine, migrate
from server.storage.keys import KeyRing
from server.storage.lines import LineStore
from server.storage.schema import accounts, messages

T = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
PEERS = ("+15550100002", "+15550100003", "+15550100004")
WRITERS = 3
#: Operations per writer: uploads of 1-3 messages and sends from the browser.
ROUNDS = 30


@pytest.fixture
def db_url(database_url: str | None, tmp_path: Path) -> str:
    return database_url or f"sqlite+aiosqlite:///{tmp_path / 'ferry.db'}"


def _writer(url: str, master: bytes, ids: tuple[int, int, int], who: int, go: object) -> None:
    """One node: its uploads and sends into the shared account (run in a process)."""
    asyncio.run(_write(url, master, ids, who, go))


async def _write(url: str, master: bytes, ids: tuple[int, int, int], who: int, go: object) -> None:
    account_id, device_id, line_id = ids
    engine = create_engine(url)
    store = ConversationStore(engine, KeyRing(engine, master))
    try:
        await store.current_seq(account_id)  # connected before the start
        await asyncio.to_thread(go.wait, 60)  # type: ignore[attr-defined]
        for n in range(ROUNDS):
            at = T + timedelta(seconds=n)
            peer = PEERS[(who + n) % len(PEERS)]
            if n % 4 == 3:
                await store.create_outgoing(
                    account_id, line_id, peer, f"out {who}.{n}", f"c{who}.{n}", at
                )
                continue
            items = [
                Inbound(
                    f"k{who}.{n}.{k}",
                    line_id,
                    PEERS[(who + n + k) % len(PEERS)],
                    f"in {who}.{n}.{k}",
                    at,
                )
                for k in range(1 + n % 3)
            ]
            await store.ingest_inbound(account_id, device_id, items, at, upto=n)
    finally:
        await engine.dispose()


async def _walk(
    store: ConversationStore, account_id: int, cursor: int, seen: list[tuple[int, int]]
) -> int:
    """Follow the feed from ``cursor`` to its end, as a browser does; returns the cursor."""
    while True:
        page = await store.changes_since(account_id, cursor, limit=4)
        assert not page.resync
        for m in page.messages:
            assert cursor < m.seq <= page.upto, (cursor, m.seq, page.upto)
            seen.append((m.seq, m.id))
        assert page.upto >= cursor
        cursor = page.upto
        if not page.more:
            return cursor


async def test_writers_on_several_nodes_share_one_gap_free_seq_and_the_feed_misses_nothing(
    db_url: str,
) -> None:
    engine = create_engine(db_url)
    await migrate(engine)
    master = secrets.token_bytes(32)
    keys = KeyRing(engine, master)
    store = ConversationStore(engine, keys)
    account_id = await AccountStore(engine).create("+15550100001", "h", T, verified_at=T)
    (line,) = await LineStore(engine).for_account(account_id)
    device_id = await DeviceStore(engine).create(account_id, "bridge", secrets.token_bytes(32), T)
    await keys.cipher(account_id)  # the data key exists before the writers start

    spawn = multiprocessing.get_context("spawn")
    go = spawn.Event()
    ids = (account_id, device_id, line.id)
    procs = [
        spawn.Process(target=_writer, args=(db_url, master, ids, who, go), daemon=True)
        for who in range(WRITERS)
    ]
    for p in procs:
        p.start()
    seen: list[tuple[int, int]] = []
    cursor = 0
    try:
        go.set()
        while any(p.is_alive() for p in procs):
            cursor = await _walk(store, account_id, cursor, seen)
            await asyncio.sleep(0.005)
    finally:
        for p in procs:
            p.join(60)
            if p.is_alive():
                p.kill()
    assert [p.exitcode for p in procs] == [0] * WRITERS
    cursor = await _walk(store, account_id, cursor, seen)

    async with engine.connect() as conn:
        stored = (
            await conn.execute(select(messages.c.seq, messages.c.id).order_by(messages.c.seq))
        ).all()
        top = (await conn.execute(select(accounts.c.seq))).scalar_one()
    await engine.dispose()
    per_writer = sum(1 if n % 4 == 3 else 1 + n % 3 for n in range(ROUNDS))
    assert len(stored) == WRITERS * per_writer
    # Unique and gap-free: every seq taken belongs to exactly one message here.
    assert [s for s, _ in stored] == list(range(1, top + 1))
    assert cursor == top
    # The walk saw every message once, in seq order, though it ran while they committed.
    assert seen == [tuple(r) for r in stored]
