"""Live fan-out to browser tabs: frames written straight to the transports."""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import struct
from datetime import UTC, datetime

import aiohttp
from sqlalchemy.exc import OperationalError

from server.hub import ChangesHint
from server.storage.conversations import Inbound
from server.ws import fanout
from server.ws.fanout import text_frame
from tests.server.conftest import Env

T = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


def test_text_frame_uses_each_length_encoding_of_rfc_6455() -> None:
    # FIN + text opcode, no mask; 7-bit length up to 125, then 16-bit, then 64-bit.
    assert text_frame(b"x" * 125)[:2] == bytes([0x81, 125])
    assert text_frame(b"x" * 126)[:4] == bytes([0x81, 126]) + struct.pack("!H", 126)
    assert text_frame(b"x" * 65535)[:4] == bytes([0x81, 126]) + struct.pack("!H", 65535)
    assert text_frame(b"x" * 65536)[:10] == bytes([0x81, 127]) + struct.pack("!Q", 65536)
    assert text_frame(b"abc")[2:] == b"abc"


async def _subscribed_tab(env: Env) -> aiohttp.ClientWebSocketResponse:
    ws = await env.client.ws_connect("/api/v1/ws", max_msg_size=4 << 20)
    await ws.send_str(json.dumps({"t": "subscribe", "since": 0}))
    while json.loads((await ws.receive()).data)["t"] != "device":
        pass
    return ws


async def test_tabs_get_small_and_large_frames_whole_and_in_order(env: Env) -> None:
    line = (await env.svc.lines.for_account(env.account_id))[0].id
    await env.login()
    tabs = [await _subscribed_tab(env) for _ in range(3)]
    sent: list[str] = []
    # One short message, then a batch whose change frame needs the 64-bit length.
    batches = [["hello"], [f"{n} " + "y" * 9_000 for n in range(10)], ["after the big one"]]
    for k, bodies in enumerate(batches):
        items = [
            Inbound(f"k{k}.{n}", line, "+15550100002", body, T) for n, body in enumerate(bodies)
        ]
        result = await env.svc.conversations.ingest_inbound(env.account_id, env.device_id, items, T)
        env.svc.hub.publish(env.account_id, ChangesHint(result.seq))
        sent += bodies
    sizes = []
    for ws in tabs:
        got: list[str] = []
        while len(got) < len(sent):
            msg = await asyncio.wait_for(ws.receive(), 5)
            assert msg.type == aiohttp.WSMsgType.TEXT, msg
            sizes.append(len(msg.data))
            frame = json.loads(msg.data)
            got += [m["body"] for m in frame.get("messages", [])]
        assert got == sent
        await ws.close()
    assert max(sizes) > 65535  # the 64-bit length was exercised


class FlakyStore:
    """The conversation store behind the change feed, failing some reads as a busy or
    broken database does (the edge being faked is the database's failure, nothing else)."""

    def __init__(self, store: object, seed: int = 7) -> None:
        self._store = store
        self._rng = random.Random(seed)
        self.failing = 0.0  # share of reads that fail
        self.reads = 0
        self.failures = 0

    async def changes_since(self, account_id: int, since: int, limit: int = 500):  # type: ignore[no-untyped-def]
        self.reads += 1
        if self._rng.random() < self.failing:
            self.failures += 1
            raise OperationalError("SELECT", {}, sqlite3.OperationalError("database is locked"))
        return await self._store.changes_since(account_id, since, limit)  # type: ignore[attr-defined]


class Tab:
    """A browser tab over a real websocket, collecting the bodies it is sent."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.bodies: set[str] = set()
        self.frames: list[dict] = []  # type: ignore[type-arg]
        self.closed: int | None = None
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, env: Env) -> Tab:
        ws = await env.client.ws_connect("/api/v1/ws", max_msg_size=16 << 20)
        await ws.send_str(json.dumps({"t": "subscribe", "since": 0}))
        tab = cls(ws)
        await _eventually(lambda: any(f["t"] == "device" for f in tab.frames))
        return tab

    async def _read(self) -> None:
        async for msg in self.ws:
            frame = json.loads(msg.data)
            self.frames.append(frame)
            self.bodies.update(m["body"] for m in frame.get("messages", []))
        self.closed = self.ws.close_code

    async def close(self) -> None:
        await self.ws.close()
        await self._reader


async def _eventually(check, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition never met"
        await asyncio.sleep(0.01)


async def _ingest(env: Env, line: int, bodies: list[str], *, hint: bool = True) -> None:
    items = [Inbound(f"k-{b}", line, "+15550100002", b, T) for b in bodies]
    result = await env.svc.conversations.ingest_inbound(env.account_id, env.device_id, items, T)
    if hint:
        env.svc.hub.publish(env.account_id, ChangesHint(result.seq))


async def test_failed_reads_during_fan_out_never_leave_a_tab_behind(env: Env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # Tabs at four different cursors; then half of the feed's reads fail while changes
    # keep coming. Each group put back after a failed read is tried again, so every tab
    # ends up with everything (before, a failed read lost its group for good).
    monkeypatch.setattr(fanout, "RETRY_MAX", 0.2, raising=False)
    flaky = FlakyStore(env.svc.feed._store)
    env.svc.feed._store = flaky  # type: ignore[assignment]
    line = (await env.svc.lines.for_account(env.account_id))[0].id
    await env.login()
    sent: list[str] = []
    tabs: list[Tab] = []
    for phase in range(4):
        # Stored without a hint: the next tabs subscribe further on than the earlier ones.
        bodies = [f"before {phase}.{n}" for n in range(5)]
        await _ingest(env, line, bodies, hint=False)
        sent += bodies
        tabs += [await Tab.open(env) for _ in range(6)]
    cursors = {f.cursor for f in env.svc.fanout._accounts[env.account_id].followers}
    assert len(cursors) == 4
    flaky.failing = 0.5
    for burst in range(10):
        bodies = [f"live {burst}.{n}" for n in range(3)]
        await _ingest(env, line, bodies)
        sent += bodies
        await asyncio.sleep(0)
    await _eventually(lambda: all(tab.bodies == set(sent) for tab in tabs))
    assert flaky.failures > 0, "no read failed: the test did not test anything"
    assert all(tab.closed is None for tab in tabs)
    for tab in tabs:
        await tab.close()


async def test_a_failing_database_gets_one_read_per_pause_not_one_per_hint(
    env: Env, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    # While the database keeps failing, hints only mark the round as due; the pusher
    # reads again after its pause, once for the account however many tabs and hints.
    monkeypatch.setattr(fanout, "RETRY_FIRST", 3600.0, raising=False)
    flaky = FlakyStore(env.svc.feed._store)
    env.svc.feed._store = flaky  # type: ignore[assignment]
    line = (await env.svc.lines.for_account(env.account_id))[0].id
    await env.login()
    tabs = [await Tab.open(env) for _ in range(5)]
    reads = flaky.reads
    flaky.failing = 1.0
    for n in range(50):
        await _ingest(env, line, [f"lost {n}"])
    await _eventually(lambda: flaky.failures >= 1)
    for _ in range(20):
        await asyncio.sleep(0.01)
    assert flaky.reads - reads == 1
    assert all(tab.closed is None and not tab.bodies for tab in tabs)
    for tab in tabs:
        await tab.close()


async def test_a_failed_read_while_subscribing_closes_with_try_again_later(env: Env) -> None:
    # The browser retries with its backoff and resumes from its cursor; the server says
    # why in the close code, not in a stack trace.
    flaky = FlakyStore(env.svc.feed._store)
    env.svc.feed._store = flaky  # type: ignore[assignment]
    flaky.failing = 1.0
    await env.login()
    ws = await env.client.ws_connect("/api/v1/ws")
    await ws.send_str(json.dumps({"t": "subscribe", "since": 0}))
    msg = await asyncio.wait_for(ws.receive(), 10)
    assert (msg.type, msg.data) == (aiohttp.WSMsgType.CLOSE, 1013)
    assert not env.svc.fanout.following(env.account_id)
