"""The page stays open while the real server process is stopped and started again.

``python -m server serve`` runs as a real process on a fixed port and data dir; the bridge
(in this process, on the emulated modem's pty) keeps receiving while the server is down
and journals what arrives. The page must say the server is unreachable, reconnect on its
own with backoff, keep its session (sessions are server-side rows), resume from its
cursor, and show the message that arrived meanwhile exactly once: first after a SIGTERM,
then after a SIGKILL.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import ClientSession
from playwright.async_api import Page, expect

from device_bridge.backoff import Backoff
from device_bridge.bridge import Bridge
from device_bridge.credentials import load_identity
from device_bridge.drivers.serial import SerialModem
from device_bridge.emulator.run import Emulator, run_emulator
from device_bridge.journal import Journal
from device_bridge.pairing import pair
from tests.chromium import launch
from tests.e2e.conftest import PHONE1, PHONE2, eventually, free_port
from tests.e2e.procs import Proc, healthy
from tests.e2e.provision import prepare

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.timeout(180)]

PASSWORD = "restart test password"
# The page's backoff after three failures in a row can wait up to 8 s, then 16 s.
RECONNECT_TIMEOUT_MS = 40_000


async def start(server: Proc, url: str) -> None:
    """Start the server process and wait until it answers."""
    await server.start()
    async with ClientSession() as http:
        await eventually(lambda: healthy(http, url), timeout=30)


@dataclass
class Rig:
    server: Proc
    emulator: Emulator
    journal: Journal
    bridge: Bridge
    url: str


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    emulator = await run_emulator([PHONE1, PHONE2], control_port=0)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    data = tmp_path / "server"
    uri = await prepare(data, url, PHONE1, PASSWORD)
    server = Proc(
        [sys.executable, "-m", "server", "serve", "--port", str(port), "--data-dir", str(data)],
        tmp_path / "server.log",
    )
    await start(server, url)
    await pair(tmp_path / "bridge", uri, name="desk modem")
    journal = Journal(tmp_path / "bridge" / "journal.db")
    modem = SerialModem(emulator.phone(PHONE1).pty, command_timeout=5.0)
    bridge = Bridge(
        modem,
        journal,
        load_identity(tmp_path / "bridge"),
        link_backoff=Backoff(base=0.05, cap=0.5),
        modem_backoff=Backoff(base=0.05, cap=0.5),
    )
    task = asyncio.create_task(bridge.run())
    try:
        await asyncio.wait_for(bridge.link.connected.wait(), 10)
        await asyncio.wait_for(bridge.modem_ready.wait(), 10)
        yield Rig(server, emulator, journal, bridge, url)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        await modem.close()
        journal.close()
        await server.stop()
        await emulator.close()


def journaled(journal: Journal, body: str) -> bool:
    """Held in the journal, not yet acknowledged by a server."""
    return any(item.body == body for item in journal.pending_inbound(0, limit=1000))


async def outage(page: Page, rig: Rig, signum: int, body: str) -> None:
    """Stop the server with ``signum``; ``body`` arrives at the phone meanwhile; restart."""
    await rig.server.stop(signum)
    banner = page.get_by_role("status").filter(has_text="reach the Ferry server")
    await expect(banner).to_be_visible(timeout=RECONNECT_TIMEOUT_MS)
    await expect(banner.get_by_role("button", name="Retry now")).to_be_visible()
    status = page.get_by_role("group", name="Status")
    await expect(status.get_by_text("Server unreachable")).to_be_visible()
    await expect(status.get_by_text("Phone status unknown")).to_be_visible()

    rig.emulator.network.send_text(PHONE2, PHONE1, body)
    # The bridge keeps working alone: the SMS is journaled, waiting for the server.
    await eventually(lambda: journaled(rig.journal, body), timeout=10)

    await start(rig.server, rig.url)
    await expect(status.get_by_text("Connected", exact=True)).to_be_visible(
        timeout=RECONNECT_TIMEOUT_MS
    )
    await expect(banner).to_be_hidden()
    await expect(status.get_by_text("desk modem connected")).to_be_visible(timeout=10_000)


async def test_page_survives_server_restarts_without_losing_or_doubling(rig: Rig) -> None:
    async with launch() as browser:
        page = await browser.new_page(viewport={"width": 1280, "height": 720})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(rig.url)
        await page.get_by_label("Phone number").fill(PHONE1)
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        nav = page.get_by_role("navigation", name="Conversations")
        await expect(page.get_by_text("desk modem connected")).to_be_visible()

        rig.emulator.network.send_text(PHONE2, PHONE1, "before the restart")
        await nav.get_by_role("button", name="before the restart").first.click()
        log = page.get_by_role("log")
        await expect(log.get_by_text("before the restart")).to_be_visible()

        await outage(page, rig, signal.SIGTERM, "while the server was stopped")
        bubble = log.locator(".msg").filter(has_text="while the server was stopped")
        await expect(bubble).to_have_count(1, timeout=10_000)
        await expect(log.locator(".msg")).to_have_count(2)
        await expect(nav.get_by_role("listitem")).to_have_count(1)

        await outage(page, rig, signal.SIGKILL, "while the server was killed")
        killed = log.locator(".msg").filter(has_text="while the server was killed")
        await expect(killed).to_have_count(1, timeout=10_000)
        await expect(log.locator(".msg")).to_have_count(3)
        texts = await log.locator(".bubble").all_inner_texts()
        assert texts == [
            "before the restart",
            "while the server was stopped",
            "while the server was killed",
        ]
        await expect(nav.get_by_role("listitem")).to_have_count(1)
        row = nav.get_by_role("button", name="while the server was killed")
        await expect(row).to_be_visible()
        # Still signed in: the session is a server-side row and outlived both processes.
        await expect(page.get_by_role("heading", name="Sign in")).to_have_count(0)
        assert errors == []
