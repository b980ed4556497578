"""Settings: phones (pair, rename, remove), profile, password, sessions, security events,
notifications; and the cookie notice of a first visit."""

from __future__ import annotations

import base64
import re
import secrets
from datetime import UTC, datetime

import aiohttp
import pytest
from playwright.async_api import Browser, Page, expect

from tests.web.conftest import PASSWORD, PHONE, LiveFerry, PageProblems
from tests.web.test_ui import sign_in

pytestmark = pytest.mark.browser


async def open_settings(page: Page, ferry: LiveFerry) -> None:
    await sign_in(page, ferry)
    await page.get_by_role("button", name="Settings").click()
    await expect(page.get_by_role("heading", name="Settings")).to_be_focused()


async def test_pair_rename_and_remove_a_phone(
    page: Page, ferry: LiveFerry, problems: PageProblems
) -> None:
    await open_settings(page, ferry)
    phones = page.get_by_role("list", name="Linked phones")
    await expect(phones.get_by_text("Pixel 8")).to_be_visible()
    await expect(phones.get_by_text("Never connected")).to_be_visible()

    await page.get_by_role("button", name="Link a phone").click()
    dialog = page.get_by_role("dialog", name="Link a phone")
    qr = dialog.get_by_role("img", name="Pairing QR code")
    await expect(qr).to_be_visible()
    src = await qr.get_attribute("src")
    assert src and src.startswith("data:image/svg+xml;base64,")
    assert base64.b64decode(src.split(",", 1)[1]).lstrip().startswith((b"<svg", b"<?xml"))
    await expect(dialog.locator(".pairing-code")).not_to_be_empty()
    await expect(dialog.get_by_role("textbox", name="Pairing link")).to_have_value(
        re.compile(r"^\S+:")
    )
    await expect(dialog.get_by_text(re.compile(r"Expires in (10:00|9:[0-5]\d)"))).to_be_visible()

    # The bridge pairs: a new device appears on the account.
    svc = ferry.svc
    await svc.devices.create(
        ferry.account_id, "Galaxy A54", secrets.token_bytes(32), datetime.now(UTC)
    )  # type: ignore[attr-defined]
    svc.devices_changed(ferry.account_id)  # type: ignore[attr-defined]
    await expect(dialog.get_by_role("status")).to_have_text(re.compile("Galaxy A54 is linked"))
    await dialog.get_by_role("button", name="Done").click()
    await expect(dialog).to_be_hidden()
    await expect(phones.get_by_text("Galaxy A54")).to_be_visible()

    await page.get_by_role("button", name="Rename Pixel 8").click()
    name = page.get_by_role("textbox", name="New name for Pixel 8")
    await expect(name).to_be_focused()
    await name.fill("Work phone")
    await name.press("Enter")
    await expect(phones.get_by_text("Work phone")).to_be_visible()

    await page.get_by_role("button", name="Remove Work phone").click()
    confirm = page.get_by_role("dialog", name="Remove Work phone?")
    await expect(confirm.get_by_role("button", name="Cancel")).to_be_focused()
    await confirm.get_by_role("button", name="Remove").click()
    await expect(phones.get_by_text("Work phone")).to_be_hidden()
    await expect(phones.get_by_text("Galaxy A54")).to_be_visible()
    assert problems.messages == []


async def test_profile_password_sessions_and_events(
    page: Page, ferry: LiveFerry, problems: PageProblems
) -> None:
    # Another browser signed in to the same account.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as other:
        resp = await other.post(
            f"{ferry.url}api/v1/session",
            json={"phone": PHONE, "password": PASSWORD},
            headers={
                "Origin": ferry.url.rstrip("/"),
                "User-Agent": "Mozilla/5.0 (Windows NT 10.0) Firefox/140.0",
            },
        )
        assert resp.status == 200, await resp.text()
    await open_settings(page, ferry)

    await page.get_by_role("textbox", name="Name", exact=True).fill("Ada")
    await page.get_by_label("Email (optional)").fill("ada@example.com")
    await page.get_by_role("button", name="Save profile").click()
    await expect(page.get_by_role("status").filter(has_text="Profile saved.")).to_be_visible()
    await expect(page.get_by_text(f"Signed in as Ada · {PHONE}")).to_be_visible()

    sessions = page.get_by_role("list", name="Signed-in sessions")
    await expect(sessions.get_by_role("listitem")).to_have_count(2)
    await expect(sessions.get_by_text("Current")).to_be_visible()
    await expect(sessions.get_by_text("Firefox on Windows")).to_be_visible()
    await page.get_by_role("button", name="Sign out everywhere else").click()
    await page.get_by_role("dialog").get_by_role("button", name="Sign out others").click()
    await expect(sessions.get_by_role("listitem")).to_have_count(1)

    await page.get_by_label("Current password").fill("not my password")
    await page.get_by_label("New password").fill("another long password")
    await page.get_by_role("button", name="Change password").click()
    await expect(
        page.get_by_role("status").filter(has_text="current password is not right")
    ).to_be_visible()
    await page.get_by_label("Current password").fill(PASSWORD)
    await page.get_by_role("button", name="Change password").click()
    await expect(page.get_by_role("status").filter(has_text="Password changed")).to_be_visible()
    await expect(page.get_by_label("Current password")).to_have_value("")

    events = page.get_by_role("list", name="Recent security activity")
    await expect(events.get_by_text("Signed in").first).to_be_visible()
    await expect(events.get_by_text("Signed out everywhere else")).to_be_visible()
    assert problems.messages == []


async def test_notifications_are_asked_from_the_button(
    browser: Browser, ferry: LiveFerry, problems: PageProblems
) -> None:
    from tests.web.test_ui import PEER

    context = await browser.new_context(viewport={"width": 1280, "height": 720}, locale="en-US")
    await context.add_init_script(
        """document.cookie = 'accept_cookies=yes; Path=/; Max-Age=600';
        window.__shown = [];
        let permission = 'default';
        window.Notification = class {
            static get permission() { return permission; }
            static async requestPermission() { permission = 'granted'; return permission; }
            constructor(title, options) { window.__shown.push([title, options.body]); }
            close() {}
        };"""
    )
    page = await context.new_page()
    problems.watch(page)
    await ferry.incoming(PEER, "first")
    await open_settings(page, ferry)
    await expect(page.get_by_text("Notifications are off.")).to_be_visible()
    assert await page.evaluate("window.__shown.length") == 0
    await page.get_by_role("button", name="Turn on").click()
    await expect(page.get_by_text("Notifications are on for this browser.")).to_be_visible()

    await ferry.incoming(PEER, "ping while in settings")
    await expect(
        page.get_by_role("navigation", name="Conversations").get_by_text("ping while in settings")
    ).to_be_visible()
    await page.wait_for_function("window.__shown.length > 0")
    assert await page.evaluate("window.__shown") == [[PEER, "ping while in settings"]]

    # None for the conversation in focus.
    await page.get_by_role("navigation", name="Conversations").get_by_role("button").first.click()
    await ferry.incoming(PEER, "seen live")
    await expect(page.get_by_role("log").get_by_text("seen live")).to_be_visible()
    assert len(await page.evaluate("window.__shown")) == 1
    await context.close()
    assert problems.messages == []


async def test_cookie_notice_on_first_visit(
    fresh_page: Page, ferry: LiveFerry, problems: PageProblems
) -> None:
    page = fresh_page
    await page.goto(ferry.url)
    notice = page.get_by_role("region", name="Cookie notice")
    await expect(notice).to_be_visible()
    assert await page.context.cookies() == []  # nothing set before a choice
    await notice.get_by_role("button", name="OK").click()
    await expect(notice).to_be_hidden()
    [cookie] = await page.context.cookies()
    assert cookie["name"] == "accept_cookies" and cookie["value"] == "yes"
    assert cookie["sameSite"] == "Lax" and cookie["path"] == "/"
    lifetime = cookie["expires"] - datetime.now(UTC).timestamp()
    assert 7776000 - 120 < lifetime <= 7776000
    await page.reload()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await expect(notice).to_be_hidden()
    assert problems.messages == []
