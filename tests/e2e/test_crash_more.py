"""More of the crash suite: two bridges on one account, pairing again mid-stream, and a
database that other writers keep busy, each under kill -9 of the real processes.

Afterwards: no SMS left the network twice, every status the server shows is true, every
message the phone received is on the server exactly once.

Sizes: ``FERRY_CRASH_OUTBOUND`` (default 200) sends, ``FERRY_CRASH_REPAIR`` (default 600)
inbound messages.
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
from aiohttp import ClientSession, CookieJar

from device_bridge.emulator.run import Emulator, run_emulator
from device_bridge.errors import LinkError
from device_bridge.pairing import pair
from server.admin import create_pairing_code
from server.config import Config
from tests.e2e.conftest import PHONE1, PHONE2, eventually, free_port
from tests.e2e.procs import Proc, healthy
from tests.e2e.provision import prepare
from tests.e2e.test_crash import (
    LOG_LEVEL,
    PASSWORD,
    _integrity,
    _post,
    _server_bodies,
    assert_truthful,
    settled_statuses,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

OUTBOUND = int(os.environ.get("FERRY_CRASH_OUTBOUND", "200"))
REPAIR = int(os.environ.get("FERRY_CRASH_REPAIR", "600"))
PHONE3 = "+15550100003"


@dataclass
class Rig:
    dir: Path
    emulator: Emulator
    server: Proc
    bridges: list[Proc]
    url: str
    chaos_log: list[str] = field(default_factory=list)
    #: Device id of each bridge's current pairing, by its directory name.
    device_ids: dict[str, int] = field(default_factory=dict)
    #: Processes the chaos must leave alone for now (a bridge being paired again).
    spared: set[int] = field(default_factory=set)

    @property
    def data(self) -> Path:
        return self.dir / "server"

    def bridge_proc(self, name: str, phone: str) -> Proc:
        return Proc(
            [sys.executable, "-m", "device_bridge", "run", "--port",
             self.emulator.phone(phone).pty, "--data-dir", str(self.dir / name)],
            self.dir / f"{name}.log",
            LOG_LEVEL,
        )  # fmt: skip

    async def pair(self, name: str, *, force: bool = False) -> None:
        offer = await create_pairing_code(Config(data_dir=self.data), PHONE1, self.url)
        paired = await pair(self.dir / name, offer.uri, name=name, force=force)
        self.device_ids[name] = paired.device_id

    def holder(self) -> int:
        """Which of the bridges holds the line's lease now (by the server's database)."""
        db = sqlite3.connect(self.data / "ferry.db", timeout=30)
        try:
            row = db.execute("SELECT device_id FROM line_leases").fetchone()
        finally:
            db.close()
        names = [p.log.stem for p in self.bridges]
        by_device = {device: names.index(name) for name, device in self.device_ids.items()}
        return 0 if row is None else by_device.get(int(row[0]), 0)

    async def ensure_running(self) -> None:
        for proc in (self.server, *self.bridges):
            if not proc.running:
                await proc.start()

    async def hand_over(self, away: float) -> None:
        """The bridge holding the line goes away for longer than its lease's grace, so
        the other bridge takes the line. The random chaos leaves it and the server alone
        meanwhile: a server killed then would not see the holder leave, and the lease
        would only end with its time to live."""
        spared = {id(self.server)}
        self.spared |= spared
        try:
            await self.server.start()  # if the chaos had it down (start is idempotent)
            await asyncio.sleep(1.0)
            victim = self.bridges[self.holder()]
            spared.add(id(victim))
            self.spared |= spared
            await victim.kill()
            self.chaos_log.append(f"{victim.log.stem} {away:.1f}s (hand-over)")
            await asyncio.sleep(away)
            await victim.start()
        finally:
            self.spared -= spared

    async def chaos(self, stop: asyncio.Event, rng: random.Random, *, long: float) -> None:
        """kill -9 the server or a bridge now and then; a bridge sometimes stays away
        longer than its line lease's grace (with probability ``long``), so the other
        bridge takes the line over."""
        pause = rng.uniform(0.1, 0.3)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pause)
            pause = rng.uniform(0.4, 1.5)
            if stop.is_set():
                return
            away = rng.uniform(0.0, 0.5)
            victim = rng.choice([self.server, *self.bridges])
            if id(victim) in self.spared:
                continue
            if len(self.bridges) > 1 and rng.random() < long:
                # The bridge sending for the line goes away for good: the other takes over.
                victim = self.bridges[self.holder()]
                away = rng.uniform(11.0, 14.0)
            await victim.kill()
            self.chaos_log.append(f"{victim.log.stem} {away:.1f}s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), away)
            await victim.start()


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    emulator = await run_emulator([PHONE1, PHONE2, PHONE3], control_port=0)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    uri = await prepare(tmp_path / "server", url, PHONE1, PASSWORD)
    server = Proc(
        [sys.executable, "-m", "server", "serve", "--port", str(port),
         "--data-dir", str(tmp_path / "server")],
        tmp_path / "server.log",
        LOG_LEVEL,
    )  # fmt: skip
    await server.start()
    async with ClientSession() as http:
        await eventually(lambda: healthy(http, url), timeout=30)
    paired = await pair(tmp_path / "bridge-a", uri, name="bridge-a")
    rig = Rig(tmp_path, emulator, server, [], url, device_ids={"bridge-a": paired.device_id})
    rig.bridges.append(rig.bridge_proc("bridge-a", PHONE1))
    await rig.bridges[0].start()
    try:
        yield rig
    finally:
        for proc in (*rig.bridges, rig.server):
            await proc.stop()
        await emulator.close()


async def test_two_bridges_on_one_account_send_each_sms_at_most_once_and_truly(
    rig: Rig,
) -> None:
    """A modem bridge and a second bridge whose sends always fail serve one line; 200
    sends while the server and both bridges are killed at random."""
    rng = random.Random(2024)
    await rig.pair("bridge-b")
    # The second bridge's modem refuses every send ("short message transfer rejected").
    rig.emulator.phone(PHONE3).modem.update_faults({"send_error": 21})
    rig.bridges.append(rig.bridge_proc("bridge-b", PHONE3))
    await rig.bridges[1].start()
    bodies = [f"two bridges {i:03d}" for i in range(OUTBOUND)]
    stop = asyncio.Event()
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:
        login = {"phone": PHONE1, "password": PASSWORD}
        async with http.post(f"{rig.url}/api/v1/session", json=login) as resp:
            assert resp.status == 200
        chaos = asyncio.create_task(rig.chaos(stop, rng, long=0.25))
        hand_overs: list[asyncio.Task[None]] = []
        try:
            for i, body in enumerate(bodies):
                payload = {"to": PHONE2, "body": body, "client_msg_id": f"two-{i}"}
                await eventually(lambda p=payload: _post(http, rig.url, p), timeout=60)
                # Besides the random long absences, the line surely changes hands twice
                # while sends go on (however fast this machine sends): both bridges serve.
                if i in (OUTBOUND // 4, OUTBOUND // 2):
                    hand_overs.append(asyncio.create_task(rig.hand_over(20.0)))
                # Spread over a minute or so, so lines change hands while sends go on.
                await asyncio.sleep(rng.uniform(0.1, 0.4))
        finally:
            stop.set()
            await chaos
            await asyncio.gather(*hand_overs)
        await rig.ensure_running()
        await settled_statuses(http, rig.url, OUTBOUND, timeout=240)
        await asyncio.sleep(2.0)  # late reports from a returning bridge may still change some
        statuses = await settled_statuses(http, rig.url, OUTBOUND, timeout=60)
    assert any(float(entry.split()[1][:-1]) > 10 for entry in rig.chaos_log), rig.chaos_log
    assert_truthful(statuses, Counter(m.text for m in rig.emulator.phone(PHONE2).modem.received))
    counts = Counter(statuses.values())
    # Both bridges did take part: some left through the modem, some failed at the other.
    assert counts["delivered"] + counts["sent"] > 0 and counts["failed"] > 0, (
        counts,
        rig.chaos_log,
    )
    assert _integrity(rig.data / "ferry.db") == "ok"


async def test_pairing_again_and_a_busy_database_under_kill_9_lose_and_double_nothing(
    rig: Rig,
) -> None:
    """Inbound messages while the server and bridge are killed, the bridge is paired
    again twice (the journal kept, its history repaired against a new device row) and
    another writer holds the database's write lock now and then."""
    rng = random.Random(77)
    bodies = [f"repair {i:04d}" for i in range(REPAIR)]
    senders = [f"+1555030{n:04d}" for n in range(20)]
    stop = asyncio.Event()

    async def busy_writer() -> None:
        """Another process takes SQLite's write lock for a while (a backup, a script)."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), rng.uniform(0.5, 2.0))
            db = sqlite3.connect(rig.data / "ferry.db", timeout=30, isolation_level=None)
            try:
                db.execute("BEGIN IMMEDIATE")
                await asyncio.sleep(rng.uniform(0.2, 2.0))
                db.execute("ROLLBACK")
            except sqlite3.OperationalError:
                pass  # the server held it: try later
            finally:
                db.close()

    async def pair_again_twice() -> None:
        for _ in range(2):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), rng.uniform(3.0, 6.0))
            if stop.is_set():
                return
            bridge = rig.bridges[0]
            rig.spared.add(id(bridge))
            await bridge.stop()
            while True:  # the chaos may kill the server mid-pairing: pair with a new code
                async with ClientSession() as http:
                    await eventually(lambda: healthy(http, rig.url), timeout=60)
                try:
                    await rig.pair("bridge-a", force=True)
                    break
                except LinkError:
                    await asyncio.sleep(0.2)
            rig.chaos_log.append("paired again")
            await bridge.start()
            rig.spared.discard(id(bridge))

    for i, body in enumerate(bodies):
        rig.emulator.network.send_text(senders[i % len(senders)], PHONE1, body)
    modem = rig.emulator.phone(PHONE1).modem
    tasks = [
        asyncio.create_task(rig.chaos(stop, rng, long=0.0)),
        asyncio.create_task(busy_writer()),
        asyncio.create_task(pair_again_twice()),
    ]

    def drained() -> bool:
        return not modem._waiting and sum(m.used for m in modem.memories.values()) == 0

    try:
        await eventually(drained, timeout=300)
        # Keep the chaos going until both pairings happened.
        await eventually(lambda: rig.chaos_log.count("paired again") == 2, timeout=60)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    await rig.ensure_running()
    journal = rig.dir / "bridge-a" / "journal.db"

    def journal_empty() -> bool:
        db = sqlite3.connect(journal)
        try:
            return db.execute("SELECT count(*) FROM inbound").fetchone()[0] == 0
        finally:
            db.close()

    await eventually(journal_empty, timeout=120)
    await asyncio.sleep(2.0)  # the last repair's Ack
    for proc in (*rig.bridges, rig.server):
        await proc.stop()
    found = await _server_bodies(rig.data)
    assert rig.chaos_log.count("paired again") == 2
    assert set(found) == set(bodies), f"missing {len(set(bodies) - set(found))}"
    assert max(found.values()) == 1, [b for b, n in found.items() if n > 1][:5]
    assert _integrity(rig.data / "ferry.db") == "ok"
    assert _integrity(journal) == "ok"
