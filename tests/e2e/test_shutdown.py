"""SIGTERM to a real ``ferry serve`` while a real bridge is uploading: the server exits 0
within its bound (``FERRY_SHUTDOWN_TIMEOUT``), the bridge is told the server restarts
(1012) and reconnects to the restarted server on its own, and every message arrives
exactly once. The server logs JSON (``FERRY_LOG_FORMAT=json``) meanwhile."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import sys
from collections import Counter
from pathlib import Path

import pytest
from aiohttp import ClientSession

from device_bridge.emulator.run import run_emulator
from server.config import Config
from server.storage.conversations import ConversationStore
from server.storage.engine import create_engine
from server.storage.keys import KeyRing
from server.storage.sealed import load_master_key
from tests.e2e.conftest import PHONE1, PHONE2, eventually, free_port
from tests.e2e.procs import Proc, healthy
from tests.e2e.provision import pair_bridge, prepare

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

COUNT = 1000
PASSWORD = "shutdown test password"


def _count(db: Path, sql: str) -> int:
    conn = sqlite3.connect(db, timeout=30)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


async def _bodies(data: Path) -> Counter[str]:
    engine = create_engine(Config(data_dir=data).db_url)
    try:
        store = ConversationStore(engine, KeyRing(engine, load_master_key(data)))
        changes = await store.changes_since(1, 0, 10_000_000)
        return Counter(m.body for m in changes.messages if not m.deleted)
    finally:
        await engine.dispose()


async def test_sigterm_during_an_ingest_loses_nothing_and_the_bridge_comes_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FERRY_LOG_FORMAT", "json")
    monkeypatch.setenv("FERRY_SHUTDOWN_TIMEOUT", "10")
    emulator = await run_emulator([PHONE1, PHONE2], control_port=0)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    data = tmp_path / "server"
    uri = await prepare(data, url, PHONE1, PASSWORD)
    py = sys.executable
    server = Proc(
        [py, "-m", "server", "serve", "--port", str(port), "--data-dir", str(data)],
        tmp_path / "server.log",
    )
    bridge: Proc | None = None
    try:
        await server.start()
        async with ClientSession() as http:
            await eventually(lambda: healthy(http, url), timeout=30)
        creds = await pair_bridge(tmp_path / "bridge", uri)
        journal = tmp_path / "bridge" / "journal.db"
        bodies = [f"message {i:04d} before, during and after a restart" for i in range(COUNT)]
        for i, body in enumerate(bodies):
            emulator.network.send_text(f"+1555020{i % 40:04d}", PHONE1, body)
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
                str(journal),
            ],
            tmp_path / "bridge.log",
        )
        await bridge.start()
        db = data / "ferry.db"
        await eventually(lambda: _count(db, "SELECT count(*) FROM messages") >= 20, timeout=120)
        assert _count(db, "SELECT count(*) FROM messages") < COUNT, "the ingest was over"

        assert server.proc is not None
        server.proc.send_signal(signal.SIGTERM)
        # The server cuts itself short at its bound (exit status 1); 0 means it finished.
        assert await asyncio.wait_for(server.proc.wait(), 60) == 0
        await eventually(lambda: "close code 1012" in bridge.log.read_text(), timeout=30)

        await server.start()
        modem = emulator.phone(PHONE1).modem

        def done() -> bool:
            drained = not modem._waiting and sum(m.used for m in modem.memories.values()) == 0
            return drained and _count(journal, "SELECT count(*) FROM inbound") == 0

        await eventually(done, timeout=180)
        await bridge.stop()
        await server.stop()
        assert server.proc is not None and server.proc.returncode == 0
        found = await _bodies(data)
        assert set(found) == set(bodies), f"missing {len(set(bodies) - set(found))}"
        assert max(found.values()) == 1, [b for b, n in found.items() if n > 1][:5]
        bridge_log = bridge.log.read_text()
        assert bridge_log.count("connected to ws://") >= 2  # came back to the new server
        records = [
            json.loads(line) for line in server.log.read_text().splitlines() if line.startswith("{")
        ]
        messages = [r["message"] for r in records]
        assert "stopped" in messages and any(m.startswith("told ") for m in messages)
        assert not [
            line
            for line in server.log.read_text().splitlines()
            if line and not line.startswith(("{", "Ferry server on"))
        ]
    finally:
        if bridge is not None:
            await bridge.stop()
        await server.stop()
        await emulator.close()
