"""Several phones on one account, in Chromium against the real server: link a second
phone for its own number, prove the number with the code texted to it, label it, send
from it through the "From" picker; each line's conversation named by its own phone."""

from __future__ import annotations

import re
import secrets

import pytest
from playwright.async_api import Page, expect
from sqlalchemy import select

from protocol.pairing import parse_pairing_uri
from server.storage.schema import lines, outbox
from tests.web.conftest import PHONE, LiveFerry, PageProblems
from tests.web.test_settings_ui import open_settings

pytestmark = pytest.mark.browser

SECOND = "+15550100009"
ALICE = "+15550100002"


async def test_link_a_second_phone_prove_its_number_and_send_from_it(
    page: Page, ferry: LiveFerry, problems: PageProblems
) -> None:
    svc = ferry.svc
    await open_settings(page, ferry)
    numbers = page.get_by_role("list", name="Your numbers")
    await expect(numbers.get_by_text(PHONE)).to_be_visible()

    await page.get_by_role("button", name="Link a phone").click()
    dialog = page.get_by_role("dialog", name="Link a phone")
    choice = dialog.get_by_label("Number of this phone or modem")
    await expect(choice).to_have_value(PHONE)
    await choice.select_option(label="Another number…")
    await dialog.get_by_label("Its number").fill("+1 555 010 0009")
    await dialog.get_by_role("button", name="Make a code for this number").click()
    await expect(dialog.get_by_text(f"{SECOND} is new on your account")).to_be_visible()
    await expect(choice).to_have_value(SECOND)
    uri = await dialog.get_by_role("textbox", name="Pairing link").input_value()
    # The second phone's bridge pairs with that code: it serves the new number only.
    paired = await svc.pairing.redeem(  # type: ignore[attr-defined]
        parse_pairing_uri(uri).code, secrets.token_bytes(32), "Second phone",
        svc.clock.now(), max_devices=10,  # type: ignore[attr-defined]
    )  # fmt: skip
    device = await svc.devices.get(ferry.account_id, paired.device_id)  # type: ignore[attr-defined]
    assert list(device.lines) == [SECOND]
    svc.devices_changed(ferry.account_id)  # type: ignore[attr-defined]
    await expect(dialog.get_by_role("status")).to_have_text(re.compile("Second phone is linked"))
    await dialog.get_by_role("button", name="Done").click()

    row = numbers.locator("li").filter(has_text=SECOND)
    await expect(row.get_by_text("Not verified")).to_be_visible()
    await expect(row.get_by_text("Linked: Second phone")).to_be_visible()
    await row.get_by_role("button", name=f"Text a code to {SECOND}").click()
    code_box = page.get_by_label(f"Code texted to {SECOND}")
    await expect(code_box).to_be_focused()
    await code_box.fill(await ferry.code_for(SECOND))
    await row.get_by_role("button", name="Verify").click()
    await expect(page.get_by_text("Number verified.")).to_be_visible()
    await expect(row.get_by_text("Not verified")).to_be_hidden()

    await row.get_by_role("button", name=f"Label {SECOND}").click()
    await page.get_by_label(f"Label for {SECOND}").fill("Work")
    await numbers.get_by_role("button", name="Save", exact=True).click()
    await expect(numbers.get_by_text(f"Work · {SECOND}")).to_be_visible()

    # Each phone names the same person its own way.
    async with svc.engine.connect() as conn:  # type: ignore[attr-defined]
        ids = dict((await conn.execute(select(lines.c.number, lines.c.id))).all())
    await svc.contacts.replace(ferry.account_id, ids[PHONE], [("Alice", ALICE)])  # type: ignore[attr-defined]
    await svc.contacts.replace(ferry.account_id, ids[SECOND], [("Mum", ALICE)])  # type: ignore[attr-defined]

    await page.get_by_role("button", name="Start chat").click()
    picker = page.get_by_label("From")
    await expect(picker).to_be_visible()
    await picker.select_option(label=f"Work ({SECOND})")
    contacts = page.get_by_role("list", name="Contacts")
    await expect(contacts.get_by_text("Mum")).to_be_visible()
    await expect(contacts.get_by_text("Alice")).to_be_hidden()  # one number, listed once
    await contacts.get_by_role("button", name=re.compile("Mum")).click()
    compose = page.get_by_role("textbox", name="Message")
    await compose.fill("Leaving work now")
    await compose.press("Enter")
    await expect(page.get_by_role("heading", name="Mum")).to_be_visible()
    async with svc.engine.connect() as conn:  # type: ignore[attr-defined]
        (queued,) = (await conn.execute(select(outbox.c.line_id, outbox.c.recipient))).all()
    assert tuple(queued) == (ids[SECOND], ALICE)
    assert problems.messages == []
