"""A message typed in the browser is never lost (issue #12), in real Chromium against the
real server process, a real bridge and the emulated modem (the rig of
``test_browser_restart``):

* server stopped, message typed: it waits, visibly; the server starts and the page's
  socket comes back: it goes out, once;
* server stopped, message typed, page reloaded (the browser cannot even load the page),
  server started, page opened again: the message comes back from IndexedDB and goes out,
  once — one row for its client id on the server, one SMS at the other phone.
"""

from __future__ import annotations

import contextlib
import re
import signal
import sqlite3
from pathlib import Path

import pytest
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page, expect

from tests.chromium import launch
from tests.e2e.conftest import PHONE1, PHONE2, eventually
from tests.e2e.test_browser_restart import PASSWORD, RECONNECT_TIMEOUT_MS, Rig, start
from tests.e2e.test_browser_restart import rig as rig  # the fixture: server process + bridge

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.timeout(180)]


def rows_for(data: Path, client_msg_id: str) -> tuple[int, int]:
    """(messages, outbox rows) the server holds for one client id (read-only, WAL)."""
    db = sqlite3.connect(f"file:{data / 'ferry.db'}?mode=ro", uri=True)
    try:
        messages = db.execute(
            "SELECT count(*) FROM messages WHERE client_msg_id = ?", (client_msg_id,)
        ).fetchone()[0]
        outbox = db.execute(
            "SELECT count(*) FROM outbox JOIN messages ON messages.id = outbox.message_id "
            "WHERE messages.client_msg_id = ?",
            (client_msg_id,),
        ).fetchone()[0]
        return messages, outbox
    finally:
        db.close()


def received(rig: Rig, text: str) -> int:
    """How many SMS with this text the other phone got."""
    return sum(1 for m in rig.emulator.phone(PHONE2).modem.received if m.text == text)


async def type_while_down(page: Page, text: str) -> str:
    """Send ``text`` from the open thread; it must end up waiting. Returns its client id."""
    # (The thread may carry the SIM phonebook's name for phone 2.)
    await page.get_by_role("textbox", name=re.compile("^Message to ")).fill(text)
    await page.keyboard.press("Enter")
    bubble = page.get_by_role("log").locator(".msg-out").filter(has_text=text)
    await expect(bubble.locator(".msg-status")).to_have_text(
        "Waiting for the server", timeout=20_000
    )
    client_id = await bubble.get_attribute("data-client-id")
    assert client_id
    return client_id


async def goes_out_once(page: Page, rig: Rig, data: Path, text: str, client_id: str) -> None:
    bubble = page.get_by_role("log").locator(".msg-out").filter(has_text=text)
    await expect(bubble).to_have_count(1)
    await expect(bubble.locator(".msg-status")).to_have_text(
        re.compile("Sent|Delivered"), timeout=30_000
    )
    await eventually(lambda: received(rig, text) == 1, timeout=20)
    assert rows_for(data, client_id) == (1, 1)


async def open_thread(page: Page) -> None:
    nav = page.get_by_role("navigation", name="Conversations")
    # The one with phone 2 (its first SMS crosses emulator, bridge and server: be patient).
    await expect(nav.get_by_role("listitem")).to_have_count(1, timeout=30_000)
    await nav.get_by_role("button").first.click()


async def test_typed_while_the_server_is_down_goes_out_once_even_across_a_reload(
    rig: Rig, tmp_path: Path
) -> None:
    data = tmp_path / "server"  # the rig's server data directory
    async with launch() as browser:
        page = await browser.new_page(viewport={"width": 1280, "height": 720})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(rig.url)
        await page.get_by_label("Phone number").fill(PHONE1)
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        rig.emulator.network.send_text(PHONE2, PHONE1, "hello from phone 2")
        await open_thread(page)
        status = page.get_by_role("group", name="Status")

        # 1. The socket comes back: the waiting message goes out by itself, once.
        await rig.server.stop(signal.SIGTERM)
        first = await type_while_down(page, "typed while the server was down")
        await start(rig.server, rig.url)
        await expect(status.get_by_text("Connected", exact=True)).to_be_visible(
            timeout=RECONNECT_TIMEOUT_MS
        )
        await goes_out_once(page, rig, data, "typed while the server was down", first)

        # 2. Reloaded while the server is down: the page cannot load; the message is in
        #    the browser's IndexedDB and goes out once the page is opened again.
        await rig.server.stop(signal.SIGKILL)
        second = await type_while_down(page, "typed, then the page reloaded")
        with contextlib.suppress(PlaywrightError):
            await page.reload()  # net::ERR_CONNECTION_REFUSED: the server is down
        await start(rig.server, rig.url)
        await page.goto(rig.url)
        await open_thread(page)
        await goes_out_once(page, rig, data, "typed, then the page reloaded", second)
        # Nothing else went out twice either.
        assert received(rig, "typed while the server was down") == 1
        assert rows_for(data, first) == (1, 1)
        # Still signed in: the session outlived both server processes.
        await expect(page.get_by_role("heading", name="Sign in")).to_have_count(0)
        assert errors == []
