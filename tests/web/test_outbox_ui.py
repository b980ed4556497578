"""Unsent messages in the browser (issue #12), in real Chromium against the real server:
a send the server never got waits visibly, outlives a reload (IndexedDB), and goes out
once when the page's socket comes back; signing out asks before it deletes them. The
server "down" here is the send request failing at the network layer (Playwright aborts
it); ``tests/e2e/test_browser_outbox.py`` stops the real server process instead."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, Route, expect
from sqlalchemy import func, select

from tests.web.conftest import LiveFerry, PageProblems
from tests.web.test_ui import PEER, sign_in

pytestmark = pytest.mark.browser

SENDS = "**/api/v1/messages"


async def refuse(route: Route) -> None:
    await route.abort("connectionrefused")


async def stored(ferry: LiveFerry, client_msg_id: str) -> int:
    from server.storage.schema import messages

    query = select(func.count()).where(messages.c.client_msg_id == client_msg_id)
    async with ferry.svc.engine.connect() as conn:  # type: ignore[attr-defined]
        return (await conn.execute(query)).scalar_one()


async def waiting_message(page: Page, ferry: LiveFerry, text: str) -> str:
    """Open the thread, send ``text`` while sends cannot reach the server; its client id."""
    await ferry.incoming(PEER, "hello")
    await sign_in(page, ferry)
    nav = page.get_by_role("navigation", name="Conversations")
    await nav.get_by_role("button", name=re.compile("hello")).click()
    await page.route(SENDS, refuse)
    await page.get_by_role("textbox", name=f"Message to {PEER}").fill(text)
    await page.keyboard.press("Enter")
    bubble = page.get_by_role("log").locator(".msg-out").filter(has_text=text)
    await expect(bubble.locator(".msg-status")).to_have_text(
        "Waiting for the server", timeout=20_000
    )
    client_id = await bubble.get_attribute("data-client-id")
    assert client_id
    return client_id


async def test_a_waiting_message_outlives_a_reload_and_goes_out_once_the_socket_is_back(
    page: Page, ferry: LiveFerry, problems: PageProblems
) -> None:
    client_id = await waiting_message(page, ferry, "typed while unreachable")
    await page.reload()
    nav = page.get_by_role("navigation", name="Conversations")
    await nav.get_by_role("button", name=re.compile("hello")).click()
    bubble = page.get_by_role("log").locator(".msg-out").filter(has_text="typed while unreachable")
    await expect(bubble.locator(".msg-status")).to_have_text("Waiting for the server")
    await expect(bubble).to_have_attribute("data-client-id", client_id)
    assert await stored(ferry, client_id) == 0

    await page.unroute(SENDS, refuse)
    await ferry.drop_tabs()  # the page's socket drops and comes back
    await expect(bubble.locator(".msg-status")).to_have_text("Queued", timeout=20_000)
    await expect(bubble).to_have_count(1)
    assert await stored(ferry, client_id) == 1
    # Nothing is left in the browser to send again.
    await page.reload()
    await nav.get_by_role("button", name=re.compile("typed while unreachable")).click()
    await expect(page.get_by_role("log").locator(".msg-out")).to_have_count(1)
    assert await stored(ferry, client_id) == 1
    assert problems.messages == []


async def test_signing_out_asks_before_it_deletes_unsent_messages(
    page: Page, ferry: LiveFerry, problems: PageProblems
) -> None:
    await waiting_message(page, ferry, "not yet sent")
    await page.get_by_role("button", name="Sign out").click()
    dialog = page.get_by_role("dialog", name="Sign out?")
    await expect(dialog).to_contain_text("1 message hasn\u2019t gone out yet.")
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(page.get_by_role("button", name="Start chat")).to_be_visible()

    await page.get_by_role("button", name="Sign out").click()
    await dialog.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.unroute(SENDS, refuse)
    await sign_in(page, ferry)
    nav = page.get_by_role("navigation", name="Conversations")
    await nav.get_by_role("button", name=re.compile("hello")).click()
    await expect(page.get_by_role("log").get_by_text("hello")).to_be_visible()
    await expect(page.get_by_role("log").get_by_text("not yet sent")).to_have_count(0)
    assert problems.messages == []
