"""kill -9 one of three nodes behind HAProxy at random points; nothing is lost or doubled.

Three ``ferry serve`` nodes on one database and Redis, HAProxy in front; the real bridge
on the emulated modem and a browser tab both go through HAProxy. A chaos loop SIGKILLs a
random node every so often and starts it again: the bridge and the tab reconnect
through the load balancer to another node and resume from their cursors. Afterwards
every message the phone received is stored exactly once and reached the tab exactly
once, no SMS left the modem twice, every status shown is true, and (SQLite) the
database passes its integrity check.

Sizes: ``FERRY_NODES_INBOUND`` (default 10,000) and ``FERRY_NODES_OUTBOUND`` (200).
"""

from __future__ import annotations

import asyncio
import base64
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
from aiohttp import ClientSession, CookieJar

from device_bridge.emulator.run import Emulator, run_emulator
from server.storage.conversations import ConversationStore
from server.storage.engine import create_engine
from server.storage.keys import KeyRing
from tests.e2e.cluster import DATABASE, Cluster, Node, Tab, open_cluster, sign_in
from tests.e2e.conftest import PHONE1, PHONE2, eventually
from tests.e2e.procs import Proc, healthy
from tests.e2e.provision import pair_bridge
from tests.e2e.test_crash import _post, assert_truthful, settled_statuses

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

INBOUND = int(os.environ.get("FERRY_NODES_INBOUND", "10000"))
OUTBOUND = int(os.environ.get("FERRY_NODES_OUTBOUND", "200"))
PASSWORD = "three nodes password"
LOG_LEVEL = os.environ.get("FERRY_CRASH_LOG_LEVEL", "WARNING")


@dataclass
class Rig:
    cluster: Cluster
    emulator: Emulator
    bridge: Proc
    account_id: int
    chaos_log: list[str] = field(default_factory=list)

    async def ensure_running(self) -> None:
        for node in self.cluster.nodes:
            if not node.proc.running:
                await self.cluster.start(node)
        if not self.bridge.running:
            await self.bridge.start()

    async def chaos(self, stop: asyncio.Event, rng: random.Random) -> None:
        """Kill a random node at random moments; start it again soon after."""
        pause = rng.uniform(0.1, 0.3)  # the first blow lands early, even in a short run
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pause)
            pause = rng.uniform(0.4, 1.5)
            if stop.is_set():
                return
            victim: Node = rng.choice(self.cluster.nodes)
            await victim.proc.kill()
            self.chaos_log.append(victim.name)
            await asyncio.sleep(rng.uniform(0.0, 0.5))
            await victim.proc.start()

    def bridge_reconnects(self) -> int:
        return self.bridge.log.read_text().count("link down")


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    emulator = await run_emulator([PHONE1, PHONE2], control_port=0)
    try:
        async with open_cluster(tmp_path / "cluster", count=3, log_level=LOG_LEVEL) as cluster:
            account_id = await cluster.account(PHONE1, PASSWORD)
            uri = await cluster.pairing_uri(PHONE1, cluster.url)
            creds = await pair_bridge(tmp_path / "bridge", uri)
            pty = emulator.phone(PHONE1).pty
            journal = str(tmp_path / "bridge" / "journal.db")
            argv = [sys.executable, "-m", "device_bridge", "run", "--port", pty, *creds]
            bridge = Proc([*argv, "--journal", journal], tmp_path / "bridge.log", LOG_LEVEL)
            await bridge.start()
            try:
                yield Rig(cluster, emulator, bridge, account_id)
            finally:
                await bridge.stop()
    finally:
        await emulator.close()


async def _stored_bodies(cluster: Cluster, account_id: int) -> Counter[str]:
    """Every live message body of the account in the shared database, opened with the
    master key."""
    engine = create_engine(cluster.env["FERRY_DATABASE_URL"])
    try:
        master = base64.b64decode(cluster.env["FERRY_MASTER_KEY"])
        store = ConversationStore(engine, KeyRing(engine, master))
        changes = await store.changes_since(account_id, 0, 10_000_000)
        return Counter(m.body for m in changes.messages if not m.deleted)
    finally:
        await engine.dispose()


def _integrity(cluster: Cluster) -> str:
    if DATABASE != "sqlite":
        return "ok"  # PostgreSQL keeps its own
    db = sqlite3.connect(cluster.dir / "shared.db")
    try:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        db.close()


async def test_kill_9_of_a_node_during_inbound_ingest(rig: Rig) -> None:
    rng = random.Random(4321)
    bodies = [f"inbound {i:05d} through three nodes" for i in range(INBOUND)]
    senders = [f"+1555020{n:04d}" for n in range(50)]
    for i, body in enumerate(bodies):
        rig.emulator.network.send_text(senders[i % len(senders)], PHONE1, body)
    modem = rig.emulator.phone(PHONE1).modem

    def drained() -> bool:
        return not modem._waiting and sum(m.used for m in modem.memories.values()) == 0

    journal = rig.bridge.log.parent / "bridge" / "journal.db"

    def ingested() -> bool:
        """Out of the modem, and out of the bridge's journal: on the server."""
        if not drained():
            return False
        db = sqlite3.connect(journal)
        try:
            return db.execute("SELECT count(*) FROM inbound").fetchone()[0] == 0
        finally:
            db.close()

    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:
        await sign_in(http, rig.cluster.url, PHONE1, PASSWORD)
        # A tab through the load balancer too: it loses its node now and then.
        tab = Tab(http, rig.cluster.url).start()
        stop = asyncio.Event()
        chaos = asyncio.create_task(rig.chaos(stop, rng))
        try:
            # Nodes die until the last message is on the server, not just off the modem.
            await eventually(ingested, timeout=420)
        finally:
            stop.set()
            await chaos
        await rig.ensure_running()
        await eventually(ingested, timeout=120)
        try:
            await eventually(lambda: len(tab.bodies()) >= len(bodies), timeout=120)
        finally:
            await tab.stop()
    await rig.bridge.stop()
    found = await _stored_bodies(rig.cluster, rig.account_id)
    assert rig.chaos_log, "the chaos loop never struck"
    assert rig.bridge_reconnects() >= 1, "the bridge's node was never killed"
    assert set(found) == set(bodies), f"missing {len(set(bodies) - set(found))}"
    assert max(found.values()) == 1, [b for b, n in found.items() if n > 1][:5]
    # The tab resumed from its cursor on whichever node it reached: each once.
    assert set(tab.bodies()) == set(bodies)
    assert max(tab.received.values()) == 1, "the tab was sent a message twice"
    assert tab.connections > 1, "the tab's node was never killed"
    assert _integrity(rig.cluster) == "ok"


async def test_kill_9_of_a_node_during_outgoing_sends(rig: Rig) -> None:
    rng = random.Random(77)
    bodies = [f"outbound {i:03d} via three nodes" for i in range(OUTBOUND)]
    url = rig.cluster.url
    stop = asyncio.Event()
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:
        await eventually(lambda: healthy(http, url), timeout=30)
        await sign_in(http, url, PHONE1, PASSWORD)
        chaos = asyncio.create_task(rig.chaos(stop, rng))
        try:
            for i, body in enumerate(bodies):
                payload = {"to": PHONE2, "body": body, "client_msg_id": f"nodes-crash-{i}"}
                # A browser retries with the same client_msg_id until a node answers.
                await eventually(lambda p=payload: _post(http, url, p), timeout=60)
                await asyncio.sleep(rng.uniform(0.0, 0.02))
        finally:
            stop.set()
            await chaos
        await rig.ensure_running()
        statuses = await settled_statuses(http, url, OUTBOUND, timeout=180)
    assert rig.chaos_log, "the chaos loop never struck"
    assert set(statuses) == set(bodies)
    assert_truthful(statuses, Counter(m.text for m in rig.emulator.phone(PHONE2).modem.received))
    assert _integrity(rig.cluster) == "ok"
