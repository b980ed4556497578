"""Conversation actions, search, shortcuts, the SMS counter, lines and contacts."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from tests.web.conftest import LiveFerry, PageProblems
from tests.web.test_ui import PEER, sign_in

pytestmark = pytest.mark.browser


def nav(page: Page):  # type: ignore[no-untyped-def]
    return page.get_by_role("navigation", name="Conversations")


async def test_archive_unarchive_and_mark_unread(
    page: Page, ferry: LiveFerry, problems: PageProblems
) -> None:
    await ferry.incoming(PEER, "keep this one")
    await ferry.incoming("+15550100003", "other chat")
    await sign_in(page, ferry)
    row = nav(page).get_by_role("button", name=re.compile("keep this one"))
    await row.click()
    await expect(row.locator(".badge")).to_be_hidden()

    await page.get_by_role("button", name="Mark as unread").click()
    await expect(row.locator(".badge")).to_have_text("1")
    await expect(page.get_by_text("Pick a conversation")).to_be_visible()
    await expect(page).to_have_title("(2) Ferry")

    await row.click()
    await (
        page.get_by_role("toolbar", name="Conversation actions")
        .get_by_role("button", name="Archive")
        .click()
    )
    await expect(row).to_be_hidden()
    await expect(
        page.get_by_role("status").filter(has_text="Conversation archived")
    ).to_be_visible()
    await page.get_by_role("button", name="Archived (1)").click()
    archived = page.get_by_role("navigation", name="Archived conversations")
    arow = archived.get_by_role("button", name=re.compile("keep this one"))
    await arow.click()
    await page.get_by_role("button", name="Unarchive").click()
    await page.get_by_role("button", name="Back to inbox").click()
    await expect(nav(page).get_by_role("button", name=re.compile("keep this one"))).to_be_visible()
    await expect(page.get_by_role("button", name="Archived", exact=True)).to_be_visible()
    # The server agrees (survives a reload).
    await page.reload()
    await expect(nav(page).get_by_role("button", name=re.compile("keep this one"))).to_be_visible()
    assert problems.messages == []


async def test_delete_with_undo_then_for_real(
    page: Page, ferry: LiveFerry, problems: PageProblems
) -> None:
    await ferry.incoming(PEER, "delete me")
    await sign_in(page, ferry)
    row = nav(page).get_by_role("button", name=re.compile("delete me"))
    await row.click()
    await page.get_by_role("button", name="Delete conversation").click()
    await expect(row).to_be_hidden()
    toast = page.get_by_role("status").filter(has_text="deleted")
    await expect(toast).to_be_visible()
    await toast.get_by_role("button", name="Undo").click()
    await expect(row).to_be_visible()
    await page.wait_for_timeout(5500)
    assert len(await ferry.thread_ids()) == 1  # undo sent nothing

    await row.click()
    await page.get_by_role("button", name="Delete conversation").click()
    await expect(row).to_be_hidden()
    await expect(toast).to_be_hidden(timeout=8000)
    for _ in range(20):
        if not await ferry.thread_ids():
            break
        await page.wait_for_timeout(200)
    assert await ferry.thread_ids() == []
    await page.reload()
    await expect(nav(page).get_by_text("No conversations yet.")).to_be_visible()
    assert problems.messages == []


async def test_tombstone_from_elsewhere_removes_the_open_thread(
    page: Page, ferry: LiveFerry, problems: PageProblems
) -> None:
    await ferry.incoming(PEER, "soon gone")
    await ferry.incoming("+15550100003", "stays")
    await sign_in(page, ferry)
    await nav(page).get_by_role("button", name=re.compile("soon gone")).click()
    await expect(page.get_by_role("log").get_by_text("soon gone")).to_be_visible()
    ids = await ferry.thread_ids()
    # threads() is newest first: "stays" arrived last.
    gone = ids[1]
    await ferry.delete_elsewhere(gone)
    await expect(nav(page).get_by_role("button", name=re.compile("soon gone"))).to_be_hidden()
    await expect(page.get_by_role("log")).to_be_hidden()
    await expect(nav(page).get_by_role("button", name=re.compile("stays"))).to_be_visible()
    assert problems.messages == []


async def test_search_highlights_and_jumps_to_the_message(
    page: Page, ferry: LiveFerry, problems: PageProblems
) -> None:
    from datetime import UTC, datetime, timedelta

    start = datetime.now(UTC) - timedelta(hours=3)
    await ferry.incoming(PEER, "Look for the blue Umbrella by the gate", at=start)
    for n in range(60):
        await ferry.incoming(PEER, f"filler {n}", at=start + timedelta(minutes=n + 1))
    await ferry.incoming("+15550100003", "umbrellas are on sale")
    await sign_in(page, ferry)
    await expect(nav(page).get_by_role("button").first).to_be_visible()
    await page.keyboard.press("/")
    box = page.get_by_role("searchbox", name="Search messages")
    await expect(box).to_be_focused()
    await box.fill("umbrella")
    results = page.get_by_role("region", name="Search results")
    await expect(results.get_by_text("2 messages found")).to_be_visible()
    await expect(results.locator("mark")).to_have_text(["umbrella", "Umbrella"])
    await expect(nav(page)).to_be_hidden()

    await results.get_by_role("button", name=re.compile("blue Umbrella")).click()
    found = page.get_by_role("log").locator("[data-found]")
    await expect(found).to_have_text(re.compile("blue Umbrella"), timeout=10_000)
    await expect(found).to_be_in_viewport()

    await box.focus()
    await page.keyboard.press("Escape")
    await expect(box).to_have_value("")
    await expect(nav(page)).to_be_visible()
    await box.fill("zzzz")
    await expect(results.get_by_text("No messages match")).to_be_visible()
    assert problems.messages == []


async def test_keyboard_shortcuts_and_help(
    page: Page, ferry: LiveFerry, problems: PageProblems
) -> None:
    for n in range(3):
        await ferry.incoming(f"+1555010002{n}", f"note {n}")
    await sign_in(page, ferry)
    await expect(nav(page).get_by_role("button")).to_have_count(3)
    await page.keyboard.press("Alt+ArrowDown")
    await expect(page.get_by_role("heading", name="+15550100022")).to_be_visible()
    await page.keyboard.press("Alt+ArrowDown")
    await expect(page.get_by_role("heading", name="+15550100021")).to_be_visible()
    await page.keyboard.press("Control+Shift+BracketLeft")
    await expect(page.get_by_role("heading", name="+15550100022")).to_be_visible()
    compose = page.get_by_role("textbox", name="Message to +15550100022")
    await expect(compose).to_be_focused()

    await page.keyboard.press("Control+k")
    await expect(page.get_by_role("searchbox", name="Search messages")).to_be_focused()
    await page.keyboard.press("Escape")
    await expect(compose).to_be_focused()
    await page.get_by_role("log").focus()
    await page.keyboard.press("Control+Shift+M")
    await expect(compose).to_be_focused()

    await page.get_by_role("log").focus()
    await page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    await expect(dialog).to_be_visible()
    await expect(dialog.get_by_role("row", name=re.compile("Next conversation"))).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    # "?" typed into the message box is just text.
    await compose.focus()
    await page.keyboard.type("ok?")
    await expect(compose).to_have_value("ok?")
    await expect(dialog).to_be_hidden()
    assert problems.messages == []


async def test_sms_counter_under_the_compose_box(page: Page, ferry: LiveFerry) -> None:
    await ferry.incoming(PEER, "count me")
    await sign_in(page, ferry)
    await nav(page).get_by_role("button", name=re.compile("count me")).click()
    compose = page.get_by_role("textbox", name=f"Message to {PEER}")
    counter = page.locator(".compose-counter")
    await expect(counter).to_have_text("")
    await compose.fill("Hello")
    await expect(counter).to_have_text("GSM-7 · 155 left · 1 SMS")
    await compose.fill("x" * 161)
    await expect(counter).to_have_text("GSM-7 · 145 left · 2 SMS")
    await compose.fill("Hello 👋")
    await expect(counter).to_have_text("Unicode · 62 left · 1 SMS")
    # The counter describes the box (followed by the notice that the seeded phone is offline).
    await expect(compose).to_have_accessible_description(re.compile("^Unicode · 62 left · 1 SMS"))


async def test_lines_and_contacts_in_a_new_conversation(
    page: Page, ferry: LiveFerry, problems: PageProblems
) -> None:
    work = await ferry.add_line("+15550109999", "Work")
    await ferry.set_contacts([("Ada Lovelace", "+15550100002"), ("Grace Hopper", "+15550100004")])
    await ferry.incoming(PEER, "hello from Ada")
    await sign_in(page, ferry)
    row = nav(page).get_by_role("button", name=re.compile("Ada Lovelace"))
    await expect(row).to_be_visible()
    await expect(row.locator(".line-chip")).to_have_text("+15550100001")
    await row.click()
    await expect(page.locator(".pane-subtitle")).to_have_text(f"{PEER} · via +15550100001")

    await page.get_by_role("button", name="Start chat").click()
    contacts = page.get_by_role("list", name="Contacts")
    await expect(contacts.get_by_role("button")).to_have_count(2)
    to = page.get_by_role("textbox", name="To")
    # Checked as it is typed, key by key, and described to assistive technology.
    await to.press_sequentially("+1 555")
    await expect(to).to_have_accessible_description(re.compile("^Keep typing"))
    await to.press_sequentially(" 010 0002")
    await expect(to).to_have_accessible_description(re.compile("^Will send to \\+15550100002"))
    await to.press_sequentially("999999")
    await expect(to).to_have_accessible_description(re.compile("^Too long"))
    await expect(to).not_to_have_attribute("aria-invalid", "true")  # an error only on send
    await to.fill("grace")
    await expect(to).to_have_accessible_description(re.compile("^Looking up contacts"))
    await expect(contacts.get_by_role("button")).to_have_count(1)
    await contacts.get_by_role("button", name=re.compile("Grace Hopper")).click()
    compose = page.get_by_role("textbox", name="Message")
    await expect(compose).to_be_focused()
    from_line = page.get_by_label("From")
    await expect(from_line).to_have_value(
        str((await ferry.svc.lines.for_account(ferry.account_id))[0].id)
    )  # type: ignore[attr-defined]
    await from_line.select_option(label="Work (+15550109999)")
    async with page.expect_request(
        lambda r: r.url.endswith("/api/v1/messages") and r.method == "POST"
    ) as req:
        await compose.fill("Hi Grace")
        await compose.press("Enter")
    body = (await req.value).post_data_json
    assert body["to"] == "+15550100004" and body["line_id"] == work
    await expect(page.get_by_role("heading", name="Grace Hopper")).to_be_visible()
    assert problems.messages == []


async def test_contacts_hidden_when_the_server_has_none(page: Page, ferry: LiveFerry) -> None:
    await page.route(
        "**/api/v1/contacts",
        lambda route: route.fulfill(
            status=404, json={"error": {"code": "not_found", "message": "Not found."}}
        ),
    )
    await sign_in(page, ferry)
    await page.get_by_role("button", name="Start chat").click()
    await expect(page.get_by_role("textbox", name="To")).to_be_focused()
    await expect(page.get_by_role("list", name="Contacts")).to_be_hidden()
