"""The whole system in one test process: emulator on real ptys, real AT driver in a real
bridge, the real server on a loopback port."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web

from device_bridge.backoff import Backoff
from device_bridge.bridge import Bridge
from device_bridge.credentials import load_identity
from device_bridge.drivers.serial import SerialModem
from device_bridge.emulator.run import Emulator, run_emulator
from device_bridge.journal import Journal
from device_bridge.pairing import pair
from server.api.common import SERVICES
from server.app import create_app
from server.config import Config
from server.services import Services
from tests.device_link import new_pairing_code

PHONE1 = "+15550100001"
PHONE2 = "+15550100002"
PASSWORD = "e2e password!"


#: The kill -9 suites each run a server, bridges and thousands of messages for a minute or
#: more: with two test workers (make test) they go to one worker, one after another, so
#: two of them never compete for the cores while the other worker runs the rest.
_HEAVY = {"test_crash.py", "test_crash_more.py", "test_nodes_crash.py"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name in _HEAVY:
            item.add_marker(pytest.mark.xdist_group("heavy"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class System:
    url: str
    config: Config
    emulator: Emulator
    runner: web.AppRunner
    bridge: Bridge
    journal_path: Path
    bridge_task: asyncio.Task[None] | None = None

    @property
    def svc(self) -> Services:
        return self.runner.app[SERVICES]

    async def stop_bridge(self) -> None:
        """The bridge process goes away (its link closes; the server marks it offline)."""
        if self.bridge_task is not None:
            self.bridge_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.bridge_task

    async def restart_server(self) -> None:
        await self.runner.cleanup()
        self.runner = await start_server(self.config)

    def received_by(self, number: str) -> list[str]:
        return [m.text for m in self.emulator.phone(number).modem.received]


async def start_server(config: Config) -> web.AppRunner:
    runner = web.AppRunner(create_app(config))
    await runner.setup()
    await web.TCPSite(runner, config.host, config.port).start()
    return runner


async def eventually(check: Callable[[], Awaitable[bool] | bool], timeout: float = 10) -> None:
    """Poll ``check`` until true (the system is asynchronous end to end)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


@asynccontextmanager
async def open_system(
    tmp_path: Path,
    *,
    profile: str = "generic",
    pin: str | None = None,
    faults: dict[str, object] | None = None,
    start: bool = True,
    poll_interval: float = 60.0,
    command_timeout: float = 5.0,
    send_timeout: float = 60.0,
    status_interval: float = 15.0,
) -> AsyncIterator[tuple[System, asyncio.Event]]:
    """The whole system; phone 1's modem has ``profile`` and ``faults`` (set before the
    bridge opens it). The bridge starts when the returned event is set (at once with
    ``start``)."""
    emulator = await run_emulator([PHONE1, PHONE2], control_port=0, profiles={PHONE1: profile})
    emulator.phone(PHONE1).modem.update_faults(faults or {})
    config = Config(port=free_port(), data_dir=tmp_path / "server")
    runner = await start_server(config)
    svc = runner.app[SERVICES]
    now = svc.clock.now()
    account = await svc.accounts.create(PHONE1, svc.passwords.hash(PASSWORD), now, verified_at=now)
    url = f"http://127.0.0.1:{config.port}"
    # The bridge pairs through the real flow: a code, then the Noise handshake carrying it.
    offer = await new_pairing_code(svc, account, url)
    await pair(tmp_path / "bridge", offer.uri, name="e2e bridge")
    journal_path = tmp_path / "bridge" / "journal.db"
    journal = Journal(journal_path)
    modem = SerialModem(
        emulator.phone(PHONE1).pty,
        pin=pin,
        command_timeout=command_timeout,
        send_timeout=send_timeout,
    )
    bridge = Bridge(
        modem,
        journal,
        load_identity(tmp_path / "bridge"),
        poll_interval=poll_interval,
        status_interval=status_interval,
        link_backoff=Backoff(base=0.05, cap=0.5),
        modem_backoff=Backoff(base=0.05, cap=0.5),
    )
    go = asyncio.Event()
    if start:
        go.set()

    async def run_when_told() -> None:
        await go.wait()
        await bridge.run()

    task = asyncio.create_task(run_when_told())
    system = System(url, config, emulator, runner, bridge, journal_path, task)
    try:
        yield system, go
    finally:
        await system.stop_bridge()
        await modem.close()
        journal.close()
        await system.runner.cleanup()
        await emulator.close()


@pytest.fixture
async def system(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[System]:
    """The whole system, ready; phone 1's quirk profile by indirect parametrisation."""
    profile = getattr(request, "param", "generic")
    async with open_system(tmp_path, profile=profile) as (system, _):
        await asyncio.wait_for(system.bridge.link.connected.wait(), 10)
        await asyncio.wait_for(system.bridge.modem_ready.wait(), 10)
        yield system
