"""kill -9 the server and the bridge at random points; prove nothing is lost or doubled.

Real processes (``python -m server serve``, ``python -m device_bridge run``) over a real
pty to the emulated modem. A chaos loop SIGKILLs one of them every so often and starts
it again. Afterwards: every message the phone received is on the server exactly once, no
SMS left the modem twice, and SQLite's integrity check passes.

Sizes: ``FERRY_CRASH_INBOUND`` (default 10,000) and ``FERRY_CRASH_OUTBOUND`` (200).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import sqlite3
import sys
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import ClientError, ClientSession, CookieJar

from device_bridge.emulator.run import Emulator, run_emulator
from server.config import Config
from server.storage.conversations import ConversationStore
from server.storage.engine import create_engine
from server.storage.keys import KeyRing
from server.storage.sealed import load_master_key
from tests.e2e.conftest import PHONE1, PHONE2, eventually, free_port
from tests.e2e.procs import Proc, healthy
from tests.e2e.provision import pair_bridge, prepare

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

INBOUND = int(os.environ.get("FERRY_CRASH_INBOUND", "10000"))
OUTBOUND = int(os.environ.get("FERRY_CRASH_OUTBOUND", "200"))
PASSWORD = "crash test password"
LOG_LEVEL = os.environ.get("FERRY_CRASH_LOG_LEVEL", "WARNING")


@dataclass
class Rig:
    dir: Path
    emulator: Emulator
    server: Proc
    bridge: Proc
    url: str
    chaos_log: list[str] = field(default_factory=list)

    async def ensure_running(self) -> None:
        for proc in (self.server, self.bridge):
            if not proc.running:
                await proc.start()

    async def chaos(self, stop: asyncio.Event, rng: random.Random) -> None:
        """Kill the server or the bridge at random moments; start it again soon after."""
        pause = rng.uniform(0.1, 0.3)  # the first blow lands early, even in a short run
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pause)
            pause = rng.uniform(0.4, 1.5)
            if stop.is_set():
                return
            victim = rng.choice([self.server, self.bridge])
            await victim.kill()
            self.chaos_log.append("server" if victim is self.server else "bridge")
            await asyncio.sleep(rng.uniform(0.0, 0.5))
            await victim.start()


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    emulator = await run_emulator([PHONE1, PHONE2], control_port=0)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    data = tmp_path / "server"
    uri = await prepare(data, url, PHONE1, PASSWORD)
    py = sys.executable
    server = Proc(
        [py, "-m", "server", "serve", "--port", str(port), "--data-dir", str(data)],
        tmp_path / "server.log",
        LOG_LEVEL,
    )
    await server.start()
    async with ClientSession() as http:
        await eventually(lambda: healthy(http, url), timeout=30)
    creds = await pair_bridge(tmp_path / "bridge", uri)
    bridge = Proc(
        [
            py,
            "-m",
            "device_bridge",
            "run",
            "--port",
            emulator.phone(PHONE1).pty,
            *creds,
            "--journal",
            str(tmp_path / "bridge" / "journal.db"),
        ],
        tmp_path / "bridge.log",
        LOG_LEVEL,
    )
    rig = Rig(tmp_path, emulator, server, bridge, url)
    await bridge.start()
    try:
        yield rig
    finally:
        await bridge.stop()
        await server.stop()
        await emulator.close()


async def _server_bodies(data: Path) -> Counter[str]:
    """Every live message body in the server database, opened with its master key."""
    config = Config(data_dir=data)
    engine = create_engine(config.db_url)
    try:
        store = ConversationStore(engine, KeyRing(engine, load_master_key(data)))
        changes = await store.changes_since(1, 0, 10_000_000)
        return Counter(m.body for m in changes.messages if not m.deleted)
    finally:
        await engine.dispose()


def _integrity(path: Path) -> str:
    db = sqlite3.connect(path)
    try:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        db.close()


async def test_kill_9_during_inbound_ingest(rig: Rig) -> None:
    rng = random.Random(1234)
    bodies = [f"inbound {i:05d} from the crash test" for i in range(INBOUND)]
    senders = [f"+1555020{n:04d}" for n in range(50)]
    for i, body in enumerate(bodies):
        rig.emulator.network.send_text(senders[i % len(senders)], PHONE1, body)
    stop = asyncio.Event()
    chaos = asyncio.create_task(rig.chaos(stop, rng))
    modem = rig.emulator.phone(PHONE1).modem

    def drained() -> bool:
        return not modem._waiting and sum(m.used for m in modem.memories.values()) == 0

    try:
        await eventually(drained, timeout=420)
    finally:
        stop.set()
        await chaos
    # Let both run undisturbed until the journal is empty, then stop them cleanly.
    await rig.ensure_running()
    journal = rig.dir / "bridge" / "journal.db"

    def journal_empty() -> bool:
        db = sqlite3.connect(journal)
        try:
            return db.execute("SELECT count(*) FROM inbound").fetchone()[0] == 0
        finally:
            db.close()

    await eventually(journal_empty, timeout=120)
    await rig.bridge.stop()
    await rig.server.stop()
    found = await _server_bodies(rig.dir / "server")
    assert rig.chaos_log, "the chaos loop never struck"
    assert set(found) == set(bodies), f"missing {len(set(bodies) - set(found))}"
    assert max(found.values()) == 1, [b for b, n in found.items() if n > 1][:5]
    assert _integrity(rig.dir / "server" / "ferry.db") == "ok"
    assert _integrity(journal) == "ok"


async def test_kill_9_during_outgoing_sends(rig: Rig) -> None:
    rng = random.Random(99)
    bodies = [f"outbound {i:03d}" for i in range(OUTBOUND)]
    stop = asyncio.Event()
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:
        await eventually(lambda: healthy(http, rig.url), timeout=30)
        login = {"phone": PHONE1, "password": PASSWORD}
        async with http.post(f"{rig.url}/api/v1/session", json=login) as resp:
            assert resp.status == 200
        chaos = asyncio.create_task(rig.chaos(stop, rng))
        try:
            for i, body in enumerate(bodies):
                payload = {"to": PHONE2, "body": body, "client_msg_id": f"crash-{i}"}
                # A browser retries with the same client_msg_id until the server answers.
                await eventually(lambda p=payload: _post(http, rig.url, p), timeout=60)
                await asyncio.sleep(rng.uniform(0.0, 0.02))
        finally:
            stop.set()
            await chaos
        await rig.ensure_running()
        statuses = await settled_statuses(http, rig.url, OUTBOUND, timeout=180)
    assert rig.chaos_log, "the chaos loop never struck"
    assert_truthful(statuses, Counter(m.text for m in rig.emulator.phone(PHONE2).modem.received))
    await rig.bridge.stop()
    await rig.server.stop()
    assert _integrity(rig.dir / "server" / "ferry.db") == "ok"


async def settled_statuses(
    http: ClientSession, url: str, count: int, *, timeout: float
) -> dict[str, str]:
    """Each outgoing message's status, once all ``count`` have a final one."""
    await eventually(lambda: healthy(http, url), timeout=30)
    final = {"sent", "delivered", "failed", "unknown"}

    async def settled() -> bool:
        statuses = await _statuses(http, url)
        return len(statuses) == count and all(s in final for s in statuses.values())

    await eventually(settled, timeout=timeout)
    return await _statuses(http, url)


def assert_truthful(statuses: dict[str, str], received: Counter[str]) -> None:
    """No SMS left twice, and every status shown is what happened."""
    assert max(received.values(), default=0) <= 1, "an SMS left the network twice"
    for body, status in statuses.items():
        if status in ("sent", "delivered"):
            assert received[body] == 1, (body, status)
        if status == "failed":
            assert received[body] == 0, (body, status)  # "failed" must mean not sent
        if received[body] == 0:
            assert status in ("failed", "unknown"), (body, status)


async def _post(http: ClientSession, url: str, payload: dict[str, str]) -> bool:
    try:
        async with http.post(f"{url}/api/v1/messages", json=payload) as resp:
            return resp.status == 201
    except (OSError, ClientError):
        return False


async def _statuses(http: ClientSession, url: str) -> dict[str, str]:
    try:
        async with http.get(f"{url}/api/v1/threads") as resp:
            threads = (await resp.json())["threads"]
        out: dict[str, str] = {}
        for thread in threads:
            before: int | None = None
            while True:
                query = f"?limit=200&before={before}" if before else "?limit=200"
                async with http.get(f"{url}/api/v1/threads/{thread['id']}/messages{query}") as r:
                    page = await r.json()
                for m in page["messages"]:
                    if m["direction"] == "out":
                        out[m["body"]] = m["status"]
                if not page["has_more"]:
                    break
                before = page["messages"][0]["id"]
        return out
    except (OSError, ClientError, KeyError, ValueError):
        return {}
