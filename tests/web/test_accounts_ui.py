"""Sign-up, phone verification (typed, pasted, or done by the bridge) and password reset,
in real Chromium against the real server (codes come from a fake SMS gateway)."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from tests.web.conftest import PASSWORD, PHONE, LiveFerry, PageProblems
from tests.web.test_ui import sign_in

pytestmark = pytest.mark.browser

NEW_PHONE = "+15550100077"
NEW_PASSWORD = "a brand new passphrase"


def digits(page: Page):  # type: ignore[no-untyped-def]
    return page.get_by_role("group", name="Verification code").get_by_role("textbox")


async def test_sign_up_then_type_the_code(
    page: Page, ferry: LiveFerry, problems: PageProblems
) -> None:
    await page.goto(ferry.url)
    await page.get_by_role("button", name="Create an account").click()
    await expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    await page.get_by_label("Phone number").fill("+1 555 010 0077")
    await page.get_by_label("Password").fill("short")
    await page.get_by_role("button", name="Create account").click()
    await expect(page.get_by_role("alert")).to_contain_text("at least 8 characters")
    await expect(page.get_by_label("Password")).to_be_focused()

    await page.get_by_label("Password").fill(NEW_PASSWORD)
    await page.get_by_role("checkbox", name=re.compile("accept the terms")).check()
    await page.get_by_label("Password").press("Enter")
    await expect(page.get_by_role("heading", name="Verify your phone number")).to_be_visible()
    # The gateway took the sign-up's code: the server says so, and only then does the page.
    await expect(page.get_by_role("status")).to_have_text(
        f"Code sent to {NEW_PHONE}. It can take a minute to arrive."
    )
    boxes = digits(page)
    await expect(boxes).to_have_count(6)
    await expect(boxes.first).to_be_focused()
    # A code was just sent: resending waits out the server's one-a-minute limit.
    resend = page.get_by_role("button", name=re.compile("Send a new code in 0:5"))
    await expect(resend).to_be_disabled()

    code = await ferry.code_for(NEW_PHONE)
    await page.keyboard.type(code[:3])
    await expect(boxes.nth(3)).to_be_focused()
    await page.keyboard.press("Backspace")  # empty box: goes back and clears the previous digit
    await expect(boxes.nth(2)).to_be_focused()
    await expect(boxes.nth(2)).to_have_value("")
    await page.keyboard.type(code[2:])  # the sixth digit submits by itself
    await expect(page.get_by_role("button", name="Start chat")).to_be_visible()
    await expect(page.get_by_text(f"Signed in as {NEW_PHONE}")).to_be_visible()
    assert problems.messages == []


async def test_wrong_code_then_pasted_code(
    page: Page, ferry_unverified: LiveFerry, problems: PageProblems
) -> None:
    await sign_in(page, ferry_unverified)
    await expect(page.get_by_role("heading", name="Verify your phone number")).to_be_visible()
    # Nothing was sent in this browser's memory: resend is available, then cools down.
    await page.get_by_role("button", name="Send a new code").click()
    await expect(
        page.get_by_role("status").filter(has_text=f"Code sent to {PHONE}.")
    ).to_be_visible()
    await expect(
        page.get_by_role("button", name=re.compile(r"Send a new code in \d:\d\d"))
    ).to_be_disabled()
    code = await ferry_unverified.code_for(PHONE)
    wrong = "000000" if code != "000000" else "111111"

    boxes = digits(page)
    await boxes.first.focus()
    await page.keyboard.type(wrong)
    await expect(page.get_by_role("alert")).to_have_text("That code is wrong or has expired.")
    await expect(boxes.first).to_have_attribute("aria-invalid", "true")
    await expect(boxes.first).to_be_focused()

    await page.evaluate(
        """code => {
            const data = new DataTransfer();
            data.setData('text/plain', ` ${code.slice(0, 3)}-${code.slice(3)} `);
            document.activeElement.dispatchEvent(
                new ClipboardEvent(
                    'paste', {clipboardData: data, bubbles: true, cancelable: true}));
        }""",
        code,
    )
    await expect(page.get_by_role("button", name="Start chat")).to_be_visible()
    assert problems.messages == []


async def test_bridge_verification_is_noticed(
    page: Page, ferry_unverified: LiveFerry, problems: PageProblems
) -> None:
    await sign_in(page, ferry_unverified)
    await expect(page.get_by_role("heading", name="Verify your phone number")).to_be_visible()
    await expect(page.get_by_text("verifies the number by itself")).to_be_visible()
    # The paired bridge received the code SMS and submitted it (auto-verification).
    svc = ferry_unverified.svc
    await svc.verification.apply(ferry_unverified.account_id, "verify", PHONE)  # type: ignore[attr-defined]
    await expect(page.get_by_role("button", name="Start chat")).to_be_visible(timeout=10_000)
    await expect(page.get_by_text("Connected", exact=True)).to_be_visible()
    assert problems.messages == []


async def test_verify_screen_offers_pairing(page: Page, ferry_unverified: LiveFerry) -> None:
    await sign_in(page, ferry_unverified)
    await page.get_by_role("button", name="Link the phone with this SIM instead").click()
    dialog = page.get_by_role("dialog", name="Link a phone")
    await expect(dialog.get_by_role("img", name="Pairing QR code")).to_be_visible()
    await dialog.get_by_role("button", name="Close").click()
    await expect(dialog).to_be_hidden()


async def test_password_reset(page: Page, ferry: LiveFerry, problems: PageProblems) -> None:
    await page.goto(ferry.url)
    await page.get_by_role("button", name="Forgot password?").click()
    await expect(page.get_by_role("heading", name="Reset your password")).to_be_visible()
    await page.get_by_label("Phone number").fill(PHONE)
    await page.get_by_role("button", name="Send code").click()
    await expect(page.get_by_role("status").filter(has_text="6-digit code")).to_be_visible()
    code = await ferry.code_for(PHONE)
    boxes = page.get_by_role("group", name="Reset code").get_by_role("textbox")
    await expect(boxes.first).to_be_focused()
    await page.keyboard.type(code)
    new_password = page.get_by_label("New password")
    await expect(new_password).to_be_focused()
    await new_password.fill(NEW_PASSWORD)
    await page.get_by_role("button", name="Set new password").click()
    await expect(page.get_by_role("button", name="Start chat")).to_be_visible()

    await page.get_by_role("button", name="Sign out").click()
    await page.get_by_label("Phone number").fill(PHONE)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("alert")).to_contain_text("password don")
    await page.get_by_label("Password").fill(NEW_PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("button", name="Start chat")).to_be_visible()
    assert problems.messages == []
