"""The whole path in real Chromium: phone 2 → modem on a pty → AT driver → bridge → server →
browser, live; and a reply typed in the browser → bridge → AT+CMGS → phone 2's inbox."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.chromium import launch
from tests.e2e.conftest import PASSWORD, PHONE1, PHONE2, System, eventually

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


async def test_sms_appears_live_and_reply_reaches_phone2(system: System) -> None:
    async with launch() as browser:
        page = await browser.new_page(viewport={"width": 1280, "height": 720})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(system.url)
        await page.get_by_label("Phone number").fill(PHONE1)
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        nav = page.get_by_role("navigation", name="Conversations")
        await expect(nav).to_be_visible()
        await expect(page.get_by_text("e2e bridge connected")).to_be_visible()

        # Phone 2's user texts phone 1; the page shows it without a reload.
        system.emulator.network.send_text(PHONE2, PHONE1, "Lunch at one? 🍜")
        row = nav.get_by_role("button", name=re.compile("Lunch at one"))
        await expect(row).to_be_visible(timeout=5000)
        await row.click()
        log = page.get_by_role("log")
        await expect(log.get_by_text("Lunch at one? 🍜")).to_be_visible()

        # The SIM phonebook names phone 2 "Alice": the conversation carries her name.
        await expect(page.get_by_role("heading", name="Alice")).to_be_visible()
        compose = page.get_by_role("textbox", name="Message to Alice")
        await compose.fill("Yes — see you there ✓")
        await compose.press("Enter")
        bubble = log.locator(".msg-out").filter(has_text="see you there")
        await expect(bubble).to_have_count(1)
        # The status travels back from the network's delivery report.
        await expect(bubble.locator(".msg-status")).to_have_text("Delivered", timeout=10000)
        await eventually(lambda: "Yes — see you there ✓" in system.received_by(PHONE2))
        assert system.received_by(PHONE2).count("Yes — see you there ✓") == 1
        assert errors == []
