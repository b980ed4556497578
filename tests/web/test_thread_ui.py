"""The open conversation: right-to-left text, incomplete long SMS, resending failed and
unknown messages, scrolling back through history by itself, jumping to the latest, and
sends that queue visibly while the phone is offline."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Page, expect

from tests.web.conftest import LiveFerry, PageProblems
from tests.web.test_ui import PEER, sign_in

pytestmark = pytest.mark.browser


async def open_thread(page: Page, ferry: LiveFerry, preview: str) -> None:
    await sign_in(page, ferry)
    nav = page.get_by_role("navigation", name="Conversations")
    await nav.get_by_role("button", name=re.compile(preview)).click()


async def test_right_to_left_emoji_and_incomplete_marker(
    page: Page, ferry: LiveFerry, problems: PageProblems
) -> None:
    await ferry.incoming(PEER, "Hello there 🎉")
    await ferry.incoming(PEER, "مرحبا، كيف حالك؟")
    await ferry.incoming(PEER, "The first half of a long", incomplete=True)
    await open_thread(page, ferry, "first half")
    log = page.get_by_role("log")
    arabic = log.locator(".bubble").filter(has_text="مرحبا")
    english = log.locator(".bubble").filter(has_text="Hello there")
    await expect(arabic).to_have_attribute("dir", "auto")
    assert await arabic.evaluate("el => el.matches(':dir(rtl)')")
    assert await english.evaluate("el => el.matches(':dir(ltr)')")
    await expect(english).to_have_text("Hello there 🎉")
    row = page.get_by_role("navigation", name="Conversations").locator(".conv-preview")
    await expect(row).to_have_attribute("dir", "auto")

    incomplete = log.locator(".msg").filter(has_text="The first half")
    await expect(incomplete.get_by_text("Part of this message never arrived.")).to_be_visible()
    await expect(log.locator(".msg-incomplete:visible")).to_have_count(1)
    assert problems.messages == []


async def test_resend_failed_then_unknown_after_asking(
    page: Page, ferry: LiveFerry, problems: PageProblems
) -> None:
    await ferry.incoming(PEER, "ping")
    await open_thread(page, ferry, "ping")
    log = page.get_by_role("log")
    await page.get_by_role("textbox", name=f"Message to {PEER}").fill("are you coming?")
    await page.keyboard.press("Enter")
    sent = log.locator(".msg-out")
    await expect(sent.locator(".msg-status")).to_have_text("Queued")
    await ferry.report_status("failed", "Network rejected the message")
    await expect(sent.locator(".msg-status")).to_have_text("Not delivered")
    await expect(sent.get_by_text("Network rejected the message")).to_be_visible()

    await sent.get_by_role("button", name="Resend").click()
    await expect(sent).to_have_count(2)
    await expect(sent.last.locator(".msg-status")).to_have_text("Queued")
    await expect(sent.first.locator(".msg-status")).to_have_text("Not delivered")
    await expect(sent.last).to_contain_text("are you coming?")

    await ferry.report_status("unknown")
    await expect(sent.last.locator(".msg-status")).to_have_text("Status unknown")
    await sent.last.get_by_role("button", name="Resend").click()
    dialog = page.get_by_role("dialog", name="Send again?")
    await expect(dialog).to_contain_text("may have been delivered already")
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(dialog).to_be_hidden()
    await expect(sent).to_have_count(2)
    await sent.last.get_by_role("button", name="Resend").click()
    await (
        page.get_by_role("dialog", name="Send again?")
        .get_by_role("button", name="Send again")
        .click()
    )
    await expect(sent).to_have_count(3)
    await expect(sent.last.locator(".msg-status")).to_have_text("Queued")
    assert problems.messages == []


async def test_history_loads_while_scrolling_up_and_jump_to_latest(
    page: Page, ferry: LiveFerry
) -> None:
    start = datetime.now(UTC) - timedelta(hours=3)
    for n in range(120):
        await ferry.incoming(PEER, f"history {n:03d}", at=start + timedelta(minutes=n))
    await open_thread(page, ferry, "history 119")
    log = page.get_by_role("log")
    await expect(log.locator(".msg")).to_have_count(50)
    jump = page.get_by_role("button", name="Jump to latest")
    await expect(jump).to_be_hidden()

    await log.evaluate("el => { el.scrollTop = 0; }")
    await expect(log.locator(".msg")).to_have_count(100)
    # The reader keeps their place: the message at the top before stays in view.
    await expect(log.get_by_text("history 070", exact=True)).to_be_in_viewport()
    await log.evaluate("el => { el.scrollTop = 0; }")
    await expect(log.locator(".msg")).to_have_count(120)
    await expect(log.get_by_role("button", name="Load earlier messages")).to_be_hidden()
    texts = await log.locator(".bubble").all_inner_texts()
    assert texts == [f"history {n:03d}" for n in range(120)]

    await expect(jump).to_be_visible()
    await jump.click()
    await expect(log.get_by_text("history 119")).to_be_in_viewport()
    await expect(jump).to_be_hidden()


async def test_sending_while_the_phone_is_offline_queues_visibly(
    page: Page, ferry: LiveFerry
) -> None:
    await ferry.incoming(PEER, "call me")
    await open_thread(page, ferry, "call me")
    # The seeded bridge has never connected.
    notice = page.get_by_role("status").filter(has_text="Your phone is offline")
    await expect(notice).to_be_visible()
    await expect(notice).to_contain_text("wait in the queue")
    compose = page.get_by_role("textbox", name=f"Message to {PEER}")
    await compose.fill("on my way")
    await compose.press("Enter")
    bubble = page.get_by_role("log").locator(".msg-out")
    await expect(bubble.locator(".msg-status")).to_have_text("Queued")
    await expect(notice).to_be_visible()
