"""Consent in real Chromium: the terms at sign-up and again when they change, a send to
someone who replied STOP, and the broadcast panel (consent records, per-recipient status)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from playwright.async_api import Page, expect

from server.consent.release import release_broadcasts
from tests.web.conftest import LiveFerry, PageProblems
from tests.web.test_a11y import violations
from tests.web.test_ui import sign_in

pytestmark = pytest.mark.browser

NEW_PHONE = "+15550100077"
STOPPED = "+15550100002"
AGREED, STRANGER = "+15550100011", "+15550100013"


async def test_sign_up_needs_the_terms_ticked_and_records_the_version(
    page: Page, ferry: LiveFerry, problems: PageProblems
) -> None:
    svc = ferry.svc
    await page.goto(ferry.url)
    await page.get_by_role("button", name="Create an account").click()
    await page.get_by_label("Phone number").fill("+1 555 010 0077")
    await page.get_by_label("Password").fill("a brand new passphrase")
    await page.get_by_role("button", name="Create account").click()
    await expect(page.get_by_role("alert")).to_have_text(
        "Read and accept the terms of use and privacy notice to create an account."
    )
    tick = page.get_by_role("checkbox", name=re.compile("accept the terms"))
    await expect(tick).to_be_focused()
    version = svc.terms.version  # type: ignore[attr-defined]
    await expect(tick).to_have_accessible_name(re.compile(f"version {version}"))
    await page.get_by_role("button", name="terms of use and privacy notice").click()
    reader = page.get_by_role("dialog", name="Terms of use and privacy notice")
    await expect(reader.get_by_label("Terms of use")).to_contain_text("STOP")
    await expect(reader.get_by_label("Privacy notice")).to_contain_text("Who can see it")
    await page.keyboard.press("Escape")
    await expect(reader).to_be_hidden()
    await tick.check()
    await page.get_by_role("button", name="Create account").click()
    await expect(page.get_by_role("heading", name="Verify your phone number")).to_be_visible()
    account = await svc.accounts.by_phone(NEW_PHONE)  # type: ignore[attr-defined]
    accepted = await svc.acceptances.latest(account.id)  # type: ignore[attr-defined]
    assert accepted is not None and accepted.version == version
    assert problems.messages == []


async def test_new_terms_stop_then_stop_replies_and_broadcasts(
    page: Page, ferry: LiveFerry, problems: PageProblems
) -> None:
    svc = ferry.svc
    await svc.acceptances.accept(ferry.account_id, "2020-01-01", datetime.now(UTC))  # type: ignore[attr-defined]
    await ferry.incoming(STOPPED, "Stop")
    await sign_in(page, ferry)

    # The terms changed since this account accepted them: nothing else until it answers.
    dialog = page.get_by_role("dialog", name="The terms have changed")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("since you accepted version 2020-01-01")
    await expect(dialog.get_by_role("button", name="Accept")).to_be_focused()
    assert await violations(page) == []
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_visible()  # only Accept or Sign out
    await dialog.get_by_role("button", name="Accept").click()
    await expect(dialog).to_be_hidden()
    latest = await svc.acceptances.latest(ferry.account_id)  # type: ignore[attr-defined]
    assert latest.version == svc.terms.version  # type: ignore[attr-defined]

    # A reply to someone who texted STOP is refused, in words.
    await (
        page.get_by_role("navigation", name="Conversations")
        .get_by_role("button", name=re.compile("Stop"))
        .click()
    )
    sentence = (
        f"{STOPPED} replied STOP on this line; Ferry will not text them until they send START."
    )
    # Said before anything is typed, then by the refusal of a send all the same.
    await expect(page.locator(".compose-notice", has_text=sentence)).to_be_visible()
    await page.get_by_role("textbox", name=f"Message to {STOPPED}").fill("Are you sure?")
    await page.keyboard.press("Enter")
    await expect(page.get_by_text(f"Not sent: {sentence}")).to_be_visible()
    # They send START: the notice goes as the message arrives.
    await ferry.incoming(STOPPED, "START")
    await expect(page.locator(".compose-notice", has_text=sentence)).to_have_count(0)
    await ferry.incoming(STOPPED, "stop")  # and STOP again
    await expect(page.locator(".compose-notice", has_text=sentence)).to_be_visible()

    # Broadcasts: consent first; the panel shows who replied STOP and each status.
    await page.get_by_role("button", name="Settings").click()
    await page.get_by_role("button", name="Broadcasts and consent…").click()
    panel = page.get_by_role("dialog", name="Broadcasts and consent")
    await expect(
        panel.get_by_role("list", name="Numbers that replied STOP").get_by_role("listitem")
    ).to_contain_text(f"{STOPPED} replied STOP")
    await panel.get_by_label("Phone number").fill(AGREED)
    await panel.get_by_label("How they agreed (optional)").fill("signed up at the shop")
    await panel.get_by_role("button", name="Record consent").click()
    consents = panel.get_by_role("list", name="Numbers that agreed to receive your messages")
    await expect(consents).to_contain_text(f"{AGREED} — agreed")
    await expect(consents).to_contain_text("signed up at the shop")
    numbers = panel.get_by_role("textbox", name="Numbers", exact=True)
    await numbers.fill(f"{STRANGER}\n{STOPPED}")
    await panel.get_by_role("button", name="Add everyone who agreed").click()
    await expect(numbers).to_have_value(f"{STRANGER}\n{STOPPED}\n{AGREED}")
    await panel.get_by_role("textbox", name="Message", exact=True).fill("Shop opens at 9 tomorrow")
    await panel.get_by_role("button", name="Send broadcast").click()
    await expect(panel.get_by_role("status")).to_contain_text("Broadcast started")
    table = panel.get_by_role("table")
    await expect(table.get_by_role("row", name=re.compile(re.escape(STRANGER)))).to_contain_text(
        "Skipped: no consent recorded"
    )
    await expect(table.get_by_role("row", name=re.compile(re.escape(STOPPED)))).to_contain_text(
        "Skipped: replied STOP"
    )
    await expect(table.get_by_role("row", name=re.compile(re.escape(AGREED)))).to_contain_text(
        "Waiting"
    )
    assert await violations(page) == []
    # Its time has come (the job runs every 2 s; here at once): the bridge reports its
    # message delivered, and the panel follows.
    await release_broadcasts(svc)  # type: ignore[arg-type]
    await ferry.report_status("delivered")
    await expect(table.get_by_role("row", name=re.compile(re.escape(AGREED)))).to_contain_text(
        "Delivered", timeout=20_000
    )
    assert problems.messages == []
