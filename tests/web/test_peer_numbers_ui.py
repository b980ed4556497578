"""Numbers as people write them, in real Chromium against the real server (issue #12):
a national number typed in To goes to its E.164 number on the chosen line's country; a
conversation with a sender name says replies are not possible and offers no Send; a
short-code conversation can be replied to."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from tests.web.conftest import LiveFerry, PageProblems
from tests.web.test_ui import sign_in

pytestmark = pytest.mark.browser


async def _peers(ferry: LiveFerry) -> list[tuple[str, int | None]]:
    threads, _ = await ferry.svc.conversations.threads(ferry.account_id)  # type: ignore[attr-defined]
    return sorted((t.peer, t.line_id) for t in threads)


async def test_national_number_in_to_sends_to_its_e164_number(
    page: Page, ferry: LiveFerry, problems: PageProblems
) -> None:
    uk = await ferry.add_line("+447700900001", "UK")
    await sign_in(page, ferry)
    await page.get_by_role("button", name="Start chat").click()
    await page.get_by_label("From").select_option(label="UK (+447700900001)")
    to = page.get_by_role("textbox", name="To")
    await to.press_sequentially("07700 900123")
    await expect(to).to_have_accessible_description(
        re.compile("^Will send to 07700900123 as dialled on your \\+44 line")
    )
    compose = page.get_by_role("textbox", name="Message")
    async with page.expect_response(
        lambda r: r.url.endswith("/api/v1/messages") and r.request.method == "POST"
    ) as answer:
        await compose.fill("Hello London")
        await compose.press("Enter")
    response = await answer.value
    assert response.status == 201
    assert (await response.json())["message"]["peer"] == "+447700900123"
    # The conversation that opens is the person's one thread, under their E.164 number.
    await expect(page.get_by_role("heading", name="+447700900123")).to_be_visible()
    await expect(page.get_by_role("log").get_by_text("Hello London")).to_be_visible()
    assert await _peers(ferry) == [("+447700900123", uk)]
    assert problems.messages == []


async def test_name_thread_cannot_be_replied_to_short_code_thread_can(
    page: Page, ferry: LiveFerry, problems: PageProblems
) -> None:
    await ferry.incoming("BANK", "Your code is 481516")
    await ferry.incoming("12345", "Reply STOP to stop")
    await sign_in(page, ferry)
    nav = page.get_by_role("navigation", name="Conversations")
    await nav.get_by_role("button", name=re.compile("Your code is")).click()
    await expect(page.get_by_role("heading", name="BANK")).to_be_visible()
    await expect(page.get_by_text("You can't reply to BANK: it is a name")).to_be_visible()
    await expect(page.get_by_role("textbox", name="Message to BANK")).to_have_count(0)
    await expect(page.get_by_role("button", name="Send message")).to_have_count(0)

    await nav.get_by_role("button", name=re.compile("Reply STOP")).click()
    await expect(page.get_by_role("heading", name="12345")).to_be_visible()
    await expect(page.get_by_text("You can't reply")).to_have_count(0)
    compose = page.get_by_role("textbox", name="Message to 12345")
    async with page.expect_response(
        lambda r: r.url.endswith("/api/v1/messages") and r.request.method == "POST"
    ) as answer:
        await compose.fill("STOP")
        await page.get_by_role("button", name="Send message").click()
    response = await answer.value
    assert response.status == 201 and (await response.json())["message"]["peer"] == "12345"
    await expect(page.get_by_role("log").locator(".msg-out")).to_have_count(1)
    assert problems.messages == []
