"""The Privacy page in Chromium: mask a conversation (asked first, pushed live), what is
stored, the access history, retention, troubleshooting access, the mask-sent setting,
and deleting the account with its password. One page load, many checks."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from playwright.async_api import Page, expect
from sqlalchemy import select

from server.storage.schema import accounts
from tests.web.conftest import PASSWORD, LiveFerry, PageProblems
from tests.web.test_conversations_ui import nav
from tests.web.test_ui import sign_in

pytestmark = pytest.mark.browser

PEER = "+15550177777"


async def test_privacy_page_controls(page: Page, ferry: LiveFerry, problems: PageProblems) -> None:
    svc = ferry.svc
    await ferry.incoming(PEER, "the code to the shed is 4417")
    await ferry.incoming(PEER, "keep it between us")
    await svc.audit.append(  # type: ignore[attr-defined]
        datetime.now(UTC), "alice", ferry.account_id, "inspect", "ticket 42: sync stopped"
    )
    await sign_in(page, ferry)

    # Mask a conversation: the page says it cannot be undone, then the change arrives live.
    await nav(page).get_by_role("button", name=re.compile("keep it between us")).click()
    log = page.get_by_role("log")
    secret = log.get_by_role("listitem").filter(has_text="the code to the shed is 4417")
    await expect(secret).to_be_visible()
    # One message first, then the whole conversation.
    await secret.hover()
    await secret.get_by_role("button", name="Mask this message").click()
    one = page.get_by_role("dialog", name="Mask this message?")
    await expect(one).to_contain_text("cannot be undone")
    await one.get_by_role("button", name="Mask for good").click()
    await expect(log.get_by_text("*****")).to_have_count(1)
    await expect(log.get_by_text("the code to the shed")).to_have_count(0)
    await expect(log.get_by_text("keep it between us")).to_be_visible()
    await page.get_by_role("button", name="Mask conversation").click()
    dialog = page.get_by_role("dialog", name="Mask this conversation?")
    await expect(dialog).to_contain_text("cannot be undone")
    await dialog.get_by_role("button", name="Mask for good").click()
    await expect(log.get_by_text("*****")).to_have_count(2)
    await expect(log.get_by_text("the code to the shed")).to_have_count(0)

    # Settings → Privacy and your data.
    await page.get_by_role("button", name="Settings").click()
    await page.get_by_role("button", name="Privacy and your data").click()
    await expect(page.get_by_role("heading", name="Privacy and your data", level=2)).to_be_focused()
    facts = page.get_by_role("definition")
    await expect(page.locator("[data-fact='Messages']")).to_have_text("2 (2 masked)")
    await expect(page.locator("[data-fact='Linked phones']")).to_have_text("1")
    await expect(facts.first).to_be_visible()
    await expect(page.get_by_text("access log", exact=False).first).to_contain_text("30 days")
    history = page.get_by_role("list", name="Access history")
    await expect(history).to_contain_text("alice looked at what your account holds")
    await expect(history).to_contain_text("Reason: ticket 42: sync stopped")

    # Retention: asked first, then saved on the server.
    await page.get_by_role("combobox", name="Keep messages").select_option("30")
    await page.get_by_role("button", name="Save").click()
    await page.get_by_role("dialog").get_by_role("button", name="Delete old messages").click()
    await expect(page.get_by_text("Messages older than 30 days will be deleted")).to_be_visible()

    # Troubleshooting access for 4 hours, then ended.
    await page.get_by_role("combobox", name="Let operators read").select_option("4")
    await page.get_by_role("button", name="Allow").click()
    await expect(
        page.get_by_text(re.compile("Operators may read your messages until"))
    ).to_be_visible()
    await page.get_by_role("button", name="End now").click()
    await expect(page.get_by_text("Operators cannot read your messages.")).to_be_visible()

    # Masking sent texts: asked first.
    await page.get_by_label("Mask each text I send once it is sent").check()
    await page.get_by_role("dialog").get_by_role("button", name="Mask sent texts").click()
    await expect(page.get_by_text("On: sent texts are masked.")).to_be_visible()
    settings = await svc.privacy.settings(ferry.account_id)  # type: ignore[attr-defined]
    assert (settings.mask_sent, settings.retention_days, settings.troubleshoot_until) == (
        True,
        30,
        None,
    )

    # Delete: a wrong password deletes nothing; the right one, after a last question.
    password = page.get_by_label("Your password")
    await password.fill("not the password")
    await page.get_by_role("button", name="Delete my account").click()
    await page.get_by_role("dialog").get_by_role("button", name="Delete my account").click()
    await expect(page.get_by_text("That password is not right")).to_be_visible()
    await password.fill(PASSWORD)
    await page.get_by_role("button", name="Delete my account").click()
    await page.get_by_role("dialog").get_by_role("button", name="Delete my account").click()
    await expect(
        page.get_by_text("Your account and everything in it were deleted.")
    ).to_be_visible()
    await expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    await svc.background.drain()  # type: ignore[attr-defined]  # the purge it started
    async with svc.engine.connect() as conn:  # type: ignore[attr-defined]
        left = (await conn.execute(select(accounts.c.id))).all()
    assert left == []  # purged
    assert problems.messages == []
