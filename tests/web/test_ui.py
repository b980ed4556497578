"""The whole web client in real Chromium against the real Ferry server."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from tests.web.conftest import PASSWORD, PHONE, LiveFerry, PageProblems

pytestmark = pytest.mark.browser

PEER = "+15550100002"


async def sign_in(page: Page, ferry: LiveFerry, password: str = PASSWORD) -> None:
    await page.goto(ferry.url)
    await page.get_by_label("Phone number").fill(PHONE)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()


async def test_sign_in_error_is_inline_then_success(
    page: Page, ferry: LiveFerry, problems: PageProblems
) -> None:
    await sign_in(page, ferry, password="wrong password")
    alert = page.get_by_role("alert").filter(has_text="password don")
    await expect(alert).to_be_visible()
    await expect(page.get_by_label("Password")).to_be_focused()
    await expect(page.get_by_label("Password")).to_have_attribute("aria-invalid", "true")

    await page.get_by_label("Password").fill(PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("navigation", name="Conversations")).to_be_visible()
    await expect(page.get_by_text("Connected", exact=True)).to_be_visible()
    await expect(page.get_by_text("Pixel 8 offline")).to_be_visible()
    await expect(page.get_by_text("· never connected")).to_be_visible()
    assert problems.messages == []


async def test_live_message_appears_and_reply_flows_to_delivered(
    page: Page, ferry: LiveFerry, problems: PageProblems
) -> None:
    await ferry.incoming(PEER, "Earlier hello")
    await sign_in(page, ferry)
    nav = page.get_by_role("navigation", name="Conversations")
    await expect(nav.get_by_role("button", name=re.compile("Earlier hello"))).to_be_visible()
    await expect(page.get_by_text("Connected", exact=True)).to_be_visible()

    await ferry.incoming(PEER, "Are you there?")
    row = nav.get_by_role("button", name=re.compile("Are you there"))
    await expect(row).to_be_visible()
    await expect(row).to_have_accessible_name(re.compile("2 unread"))
    await expect(row.locator(".badge")).to_have_text("2")
    await expect(page).to_have_title("(2) Ferry")

    await row.click()
    log = page.get_by_role("log")
    await expect(log.get_by_text("Are you there?")).to_be_visible()
    await expect(log.get_by_role("heading", name="Today")).to_be_visible()
    await expect(row.locator(".badge")).to_be_hidden()
    await expect(row).not_to_have_accessible_name(re.compile("unread"))
    await expect(page).to_have_title("Ferry")

    compose = page.get_by_role("textbox", name=f"Message to {PEER}")
    await expect(compose).to_be_focused()
    await compose.fill("line one")
    await compose.press("Shift+Enter")
    await compose.type("line two")
    await expect(compose).to_have_value("line one\nline two")
    await compose.press("Enter")
    await expect(compose).to_have_value("")
    bubble = log.locator(".msg-out").filter(has_text="line one")
    await expect(bubble).to_have_count(1)
    await expect(bubble.locator(".msg-status")).to_have_text("Queued")

    await ferry.report_status("sent")
    await expect(bubble.locator(".msg-status")).to_have_text("Sent")
    await ferry.report_status("delivered")
    await expect(bubble.locator(".msg-status")).to_have_text("Delivered")
    await expect(nav.get_by_role("button", name=re.compile("You: line one"))).to_be_visible()
    await expect(log.locator(".msg-out")).to_have_count(1)
    assert problems.messages == []


async def test_failed_send_shows_error_text(page: Page, ferry: LiveFerry) -> None:
    await ferry.incoming(PEER, "ping")
    await sign_in(page, ferry)
    await page.get_by_role("button", name=re.compile("ping")).click()
    await page.get_by_role("textbox", name=f"Message to {PEER}").fill("will fail")
    await page.keyboard.press("Enter")
    bubble = page.get_by_role("log").locator(".msg-out")
    await expect(bubble.locator(".msg-status")).to_have_text("Queued")
    await ferry.report_status("failed", "Modem said +CMS ERROR: 38")
    await expect(bubble.locator(".msg-status")).to_have_text("Not delivered")
    # The modem's words (an older bridge put them in `error`): a sentence, detail on demand.
    await expect(bubble.locator(".msg-error")).to_have_text(
        "The phone couldn\u2019t send this message."
    )
    await expect(bubble.get_by_text("+CMS ERROR: 38")).to_be_hidden()
    await bubble.get_by_text("Details").click()
    await expect(bubble.get_by_text("+CMS ERROR: 38")).to_be_visible()


async def test_new_message_to_any_number(
    page: Page, ferry: LiveFerry, problems: PageProblems
) -> None:
    await sign_in(page, ferry)
    await page.get_by_role("button", name="Start chat").click()
    to = page.get_by_role("textbox", name="To")
    await expect(to).to_be_focused()
    await to.fill("not a number")
    await to.press("Enter")
    compose = page.get_by_role("textbox", name="Message")
    await compose.fill("Hi there")
    await compose.press("Enter")
    await expect(
        page.get_by_role("alert").filter(has_text="is a name, not a number")
    ).to_be_visible()
    await expect(to).to_have_attribute("aria-invalid", "true")

    await to.fill("+1 555 010 0003")
    await compose.press("Enter")
    await expect(page.get_by_role("heading", name="+15550100003")).to_be_visible()
    await expect(page.get_by_role("log").get_by_text("Hi there")).to_be_visible()
    nav = page.get_by_role("navigation", name="Conversations")
    await expect(nav.get_by_role("button", name=re.compile("You: Hi there"))).to_have_attribute(
        "aria-current", "true"
    )
    assert problems.messages == []


async def test_sign_out_returns_to_sign_in(page: Page, ferry: LiveFerry) -> None:
    await sign_in(page, ferry)
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await expect(page.get_by_label("Password")).to_be_focused()  # phone is remembered
    await page.reload()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


async def test_session_kept_across_reload(page: Page, ferry: LiveFerry) -> None:
    await ferry.incoming(PEER, "still here")
    await sign_in(page, ferry)
    await expect(page.get_by_text("still here")).to_be_visible()
    await page.reload()
    await expect(page.get_by_text("still here")).to_be_visible()


async def test_unverified_number_gets_a_clear_screen(
    page: Page, ferry_unverified: LiveFerry
) -> None:
    await sign_in(page, ferry_unverified)
    await expect(page.get_by_role("heading", name="Verify your phone number")).to_be_visible()
    await expect(page.get_by_text(PHONE)).to_be_visible()
    code = page.get_by_role("group", name="Verification code")
    await expect(code.get_by_role("textbox").first).to_be_focused()


async def test_keyboard_walks_the_conversation_list(page: Page, ferry: LiveFerry) -> None:
    for n in range(3):
        await ferry.incoming(f"+1555010001{n}", f"message {n}")
    await sign_in(page, ferry)
    nav = page.get_by_role("navigation", name="Conversations")
    first = nav.get_by_role("button").first
    await expect(first).to_contain_text("message 2")
    await first.focus()
    await page.keyboard.press("ArrowDown")
    await expect(nav.get_by_role("button").nth(1)).to_be_focused()
    await page.keyboard.press("End")
    await expect(nav.get_by_role("button").nth(2)).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("textbox", name="Message to +15550100010")).to_be_focused()


async def test_narrow_layout_shows_list_or_thread(page: Page, ferry: LiveFerry) -> None:
    await page.set_viewport_size({"width": 390, "height": 800})
    await ferry.incoming(PEER, "small screen")
    await sign_in(page, ferry)
    nav = page.get_by_role("navigation", name="Conversations")
    await nav.get_by_role("button", name=re.compile("small screen")).click()
    await expect(nav).to_be_hidden()
    await expect(page.get_by_role("log").get_by_text("small screen")).to_be_visible()
    await page.get_by_role("button", name="Back to conversations").click()
    await expect(nav).to_be_visible()
    await expect(nav.get_by_role("button", name=re.compile("small screen"))).to_be_focused()


async def test_reconnects_after_the_socket_drops(page: Page, ferry: LiveFerry) -> None:
    await sign_in(page, ferry)
    await expect(page.get_by_text("Connected", exact=True)).to_be_visible()
    # Make the server drop every browser socket of the account (as if it fell too far
    # behind); the page must reconnect and resume from its cursor.
    await ferry.drop_tabs()
    await expect(page.get_by_role("status").filter(has_text="Reconnecting")).to_be_visible()
    await ferry.incoming(PEER, "sent while away")
    await expect(page.get_by_text("sent while away")).to_be_visible(timeout=10_000)
    await expect(page.get_by_text("Connected", exact=True)).to_be_visible()
    await expect(page.get_by_role("status").filter(has_text="Reconnecting")).to_be_hidden()


async def test_older_messages_load_on_demand(page: Page, ferry: LiveFerry) -> None:
    from datetime import UTC, datetime, timedelta

    start = datetime.now(UTC) - timedelta(hours=2)
    for n in range(60):
        await ferry.incoming(PEER, f"history {n:02d}", at=start + timedelta(minutes=n))
    await sign_in(page, ferry)
    await page.get_by_role("button", name=re.compile("history 59")).click()
    log = page.get_by_role("log")
    await expect(log.locator(".msg")).to_have_count(50)
    await expect(log.get_by_text("history 59")).to_be_in_viewport()
    await log.get_by_role("button", name="Load earlier messages").click()
    await expect(log.locator(".msg")).to_have_count(60)
    await expect(log.get_by_role("button", name="Load earlier messages")).to_be_hidden()
    texts = await log.locator(".bubble").all_inner_texts()
    assert texts == [f"history {n:02d}" for n in range(60)]


async def test_lost_session_returns_to_sign_in_with_a_notice(page: Page, ferry: LiveFerry) -> None:
    await sign_in(page, ferry)
    await expect(page.get_by_text("Connected", exact=True)).to_be_visible()
    await page.context.clear_cookies()
    await ferry.drop_tabs()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible(timeout=10_000)
    await expect(page.get_by_role("status").filter(has_text="session has ended")).to_be_visible()
