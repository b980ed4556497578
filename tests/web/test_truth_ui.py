"""Issue #13, "the UI tells the truth", in real Chromium against the real server: the real
sign-in wait (and another account still signs in), verification sends said only when the
gateway took them, a long paste kept and measured, a hung modem and a failed send in plain
words over the real device link, who paired a bridge, the one-button cookie notice, the
pairing dialog's alternatives, the reset step across a reload, no shortcut help on touch."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest
from playwright.async_api import Browser, Page, expect

from protocol.link import generate_keypair
from protocol.messages import (
    MAX_BODY,
    Ack,
    DeviceHello,
    InboundSms,
    ModemInfo,
    SendSms,
    SendStatus,
    Upload,
)
from protocol.pairing import parse_pairing_uri
from server.sms_gateway import GatewayUnavailable
from tests.device_link import DeviceClient, connect, new_pairing_code
from tests.web.conftest import PASSWORD, PHONE, LiveFerry, PageProblems
from tests.web.test_ui import PEER, sign_in

pytestmark = pytest.mark.browser

OTHER = "+15550100088"
MINUS = "\u2212"
APOS = "\u2019"  # the page writes typographic apostrophes


class DownGateway:
    """An SMS gateway whose way out is down (the edge; the server's handling is real)."""

    name = "down"

    async def send(self, to: str, text: str, kind: str) -> None:
        raise GatewayUnavailable("the gateway bridge is not connected")

    async def close(self) -> None:
        pass


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def bridge(ferry: LiveFerry, http: aiohttp.ClientSession, name: str) -> DeviceClient:
    """A bridge of the account over the real encrypted device link."""
    private, public = generate_keypair()
    svc = ferry.svc
    await svc.devices.create(ferry.account_id, name, public, datetime.now(UTC))  # type: ignore[attr-defined]
    svc.devices_changed(ferry.account_id)  # type: ignore[attr-defined]
    return await connect(http, private, svc.server_public, url=f"{ferry.url}api/v1/device")  # type: ignore[attr-defined]


# ---- sign-in -----------------------------------------------------------------------


async def test_sign_in_lockout_shows_the_real_wait_and_spares_other_accounts(
    page: Page, ferry: LiveFerry, problems: PageProblems
) -> None:
    svc = ferry.svc
    now = datetime.now(UTC)
    await svc.accounts.create(OTHER, svc.passwords.hash(PASSWORD), now, verified_at=now)  # type: ignore[attr-defined]
    # Earlier wrong tries on this number: the per-account backoff has grown to 2 minutes.
    for _ in range(9):
        await svc.throttles.login.hit(f"acct:{PHONE}")  # type: ignore[attr-defined]
    await sign_in(page, ferry, password="one more wrong guess")
    alert = page.get_by_role("alert")
    await expect(alert).to_have_text("Too many sign-in attempts. Try again in 2 minutes.")
    button = page.locator("form.signin-form button[type=submit]")
    await expect(button).to_be_disabled()
    await expect(button).to_have_text(re.compile(r"^Try again in 1:(59|5\d)$"))
    first = await button.text_content()
    await expect(button).not_to_have_text(first or "", timeout=5000)  # it counts down

    # The same address, another account: not locked out.
    await page.get_by_label("Phone number").fill(OTHER)
    await expect(page.get_by_role("button", name="Sign in")).to_be_enabled()
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_text(f"Signed in as {OTHER}")).to_be_visible()
    assert problems.messages == []


# ---- verification sends ------------------------------------------------------------------


async def test_resend_that_the_gateway_did_not_take_is_not_called_sent(
    page: Page, ferry_unverified: LiveFerry, problems: PageProblems
) -> None:
    ferry_unverified.svc.verification.gateway = DownGateway()  # type: ignore[attr-defined]
    await sign_in(page, ferry_unverified)
    await expect(page.get_by_role("heading", name="Verify your phone number")).to_be_visible()
    await page.get_by_role("button", name="Send a new code").click()
    failure = page.get_by_role("alert").filter(has_text=f"couldn{APOS}t text a code")
    await expect(failure).to_have_text(
        f"Ferry couldn{APOS}t text a code to {PHONE}: its text message service "
        f"isn{APOS}t reachable right now. Send a new code in a minute. If it keeps failing, "
        "tell the person who runs this Ferry server."
    )
    await expect(page.get_by_text("Code sent")).to_have_count(0)
    await expect(
        page.get_by_role("button", name=re.compile(r"Send a new code in 0:5\d|1:00"))
    ).to_be_disabled()
    assert problems.messages == []


async def test_sign_up_whose_code_did_not_leave_says_so(
    page: Page, ferry: LiveFerry, problems: PageProblems
) -> None:
    ferry.svc.verification.gateway = DownGateway()  # type: ignore[attr-defined]
    await page.goto(ferry.url)
    await page.get_by_role("button", name="Create an account").click()
    await page.get_by_label("Phone number").fill("+1 555 010 0077")
    await page.get_by_label("Password").fill("a brand new passphrase")
    await page.get_by_role("checkbox", name=re.compile("accept the terms")).check()
    await page.get_by_role("button", name="Create account").click()
    await expect(page.get_by_role("heading", name="Verify your phone number")).to_be_visible()
    await expect(page.get_by_role("alert")).to_contain_text(
        f"Ferry couldn{APOS}t text a code to +15550100077", timeout=10_000
    )
    await expect(page.get_by_text("Code sent")).to_have_count(0)
    await expect(page.get_by_text("we texted", exact=False)).to_have_count(0)
    assert problems.messages == []


# ---- compose ---------------------------------------------------------------------------


async def test_a_long_paste_is_kept_whole_and_measured(
    page: Page, ferry: LiveFerry, problems: PageProblems
) -> None:
    await ferry.incoming(PEER, "send me the essay")
    await sign_in(page, ferry)
    nav = page.get_by_role("navigation", name="Conversations")
    await nav.get_by_role("button", name=re.compile("send me the essay")).click()
    compose = page.get_by_role("textbox", name=f"Message to {PEER}")
    # A real paste from the clipboard: the browser inserts the text (maxlength would cut it).
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    await page.evaluate("text => navigator.clipboard.writeText(text)", "a" * 10_000)
    await compose.focus()
    await page.keyboard.press("ControlOrMeta+V")
    await expect(compose).not_to_have_value("")
    assert len(await compose.input_value()) == 10_000
    counter = page.locator(".compose-counter")
    await expect(counter).to_have_text(
        "8,400 characters over the limit of 1,600. Shorten the message to send it."
    )
    await expect(compose).to_have_attribute("aria-invalid", "true")
    send = page.get_by_role("button", name="Send message")
    await expect(send).to_be_disabled()
    await compose.press("Enter")
    assert len(await compose.input_value()) == 10_000, "Enter neither sends nor drops it"
    await expect(page.get_by_role("log").locator(".msg-out")).to_have_count(0)

    await compose.fill("b" * 1600)  # the user shortened it
    await expect(counter).not_to_contain_text("over the limit")
    await expect(send).to_be_enabled()
    await send.click()
    await expect(page.get_by_role("log").locator(".msg-out")).to_have_count(1)
    assert problems.messages == []


# ---- the modem and failed sends, over the real device link ------------------------------


async def test_a_hung_modem_and_a_failed_send_in_plain_words(
    page: Page, ferry: LiveFerry, http: aiohttp.ClientSession, problems: PageProblems
) -> None:
    await ferry.incoming(PEER, "are you there")
    desk = await bridge(ferry, http, "Desk modem")
    await desk.send(ModemInfo(signal_dbm=-71, operator="Ferry Mobile", state="ready"))
    await sign_in(page, ferry)
    status = page.get_by_role("group", name="Status")
    await expect(status.get_by_text("Desk modem connected")).to_be_visible()
    await expect(
        status.get_by_role("img", name=f"Signal 4 of 4 bars ({MINUS}71 dBm)")
    ).to_be_visible()
    await expect(status.get_by_text("Ferry Mobile")).to_be_visible()

    # The bridge notices its modem stopped answering; the page says so within seconds.
    await desk.send(ModemInfo(signal_dbm=-71, operator="Ferry Mobile", state="not_responding"))
    await expect(status.get_by_text("Desk modem: modem not responding")).to_be_visible(timeout=5000)
    await expect(status.get_by_role("img", name=re.compile("Signal"))).to_have_count(0)
    await expect(status.get_by_text("Ferry Mobile")).to_have_count(0)
    await expect(status.get_by_text("Desk modem connected")).to_have_count(0)

    # A send fails: the bridge's plain sentence, the modem's words one click away.
    nav = page.get_by_role("navigation", name="Conversations")
    await nav.get_by_role("button", name=re.compile("are you there")).click()
    await expect(
        page.get_by_text("modem is not responding. Messages you send wait")
    ).to_be_visible()
    await page.get_by_role("textbox", name=f"Message to {PEER}").fill("yes, here")
    await page.keyboard.press("Enter")
    order = await desk.recv()
    while not isinstance(order, SendSms):
        order = await desk.recv()
    raw = "AT+CMGS=42 timed out waiting for the prompt"
    sentence = "The modem did not answer, so the message was not sent."
    await desk.send(
        SendStatus(outbox_id=order.outbox_id, status="failed", error=sentence, error_detail=raw)
    )
    bubble = page.get_by_role("log").locator(".msg-out").filter(has_text="yes, here")
    await expect(bubble.locator(".msg-error")).to_have_text(sentence)
    detail = bubble.locator("details")
    await expect(detail.get_by_text(raw)).to_be_hidden()
    await detail.get_by_text("Details").click()
    await expect(detail.get_by_text(raw)).to_be_visible()
    await desk.close()
    assert problems.messages == []


async def test_a_message_the_server_could_not_store_is_a_notice(
    page: Page, ferry: LiveFerry, http: aiohttp.ClientSession, problems: PageProblems
) -> None:
    await ferry.incoming(PEER, "before the broken one")
    desk = await bridge(ferry, http, "Desk modem")
    await sign_in(page, ferry)
    nav = page.get_by_role("navigation", name="Conversations")
    await nav.get_by_role("button", name=re.compile("before the broken one")).click()
    log = page.get_by_role("log")
    await expect(log.get_by_text("before the broken one")).to_be_visible()
    # The bridge uploads an SMS the server cannot keep: it stores a placeholder.
    now = datetime.now(UTC).isoformat()
    huge = InboundSms(n=1, key="huge-1", sender=PEER, body="x" * (MAX_BODY + 1), sent_at=now)
    await desk.send(Upload(items=[huge]))
    ack = await desk.recv()
    while not isinstance(ack, Ack):
        ack = await desk.recv()
    assert [r.reason for r in ack.rejected] == ["body_too_long"]
    notice = log.locator(".msg-refused")
    await expect(notice).to_have_text(
        re.compile(
            rf"^A message from \{PEER} could not be stored: "
            r"its text is longer than Ferry can keep\..*"
        )
    )
    await expect(log.locator(".bubble:visible")).to_have_count(1)  # no empty bubble
    await expect(nav.get_by_text("A message could not be stored")).to_be_visible()
    await desk.close()
    assert problems.messages == []


# ---- settings: security log, pairing dialog ------------------------------------------------


async def test_a_paired_bridge_is_named_in_the_security_log(
    page: Page, ferry: LiveFerry, http: aiohttp.ClientSession, problems: PageProblems
) -> None:
    svc = ferry.svc
    offer = await new_pairing_code(svc, ferry.account_id, ferry.url.rstrip("/"))
    private, _ = generate_keypair()
    hello = DeviceHello(versions=[1], pairing_code=parse_pairing_uri(offer.uri).code, name="Desk")
    paired = await connect(
        http, private, svc.server_public, url=f"{ferry.url}api/v1/device", hello=hello
    )  # type: ignore[attr-defined]
    # Notifications blocked in this browser: their row has no button (and says no "null").
    await page.add_init_script(
        "Object.defineProperty(Notification, 'permission', {get: () => 'denied'})"
    )
    await sign_in(page, ferry)
    await page.get_by_role("button", name="Settings").click()
    await expect(page.get_by_text("Notifications are blocked.")).to_be_visible()
    await expect(page.get_by_text("null", exact=True)).to_have_count(0)
    events = page.get_by_role("list", name="Recent security activity")
    linked = events.get_by_role("listitem").filter(has_text="Phone linked")
    await expect(linked).to_contain_text("Ferry bridge · 127.0.0.1")
    await expect(events.get_by_text("Unknown browser")).to_have_count(0)
    await paired.close()
    assert problems.messages == []


async def test_pairing_dialog_offers_two_alternatives_not_steps(
    page: Page, ferry: LiveFerry, problems: PageProblems
) -> None:
    await sign_in(page, ferry)
    await page.get_by_role("button", name="Settings").click()
    await page.get_by_role("button", name="Link a phone").click()
    dialog = page.get_by_role("dialog", name="Link a phone")
    await expect(dialog.get_by_role("img", name="Pairing QR code")).to_be_visible()
    await expect(dialog.get_by_role("list")).to_have_count(0)  # no numbered steps
    link = dialog.get_by_role("region", name="The pairing link")
    typed = dialog.get_by_role("region", name="The server address and code")
    await expect(link.get_by_role("textbox", name="Pairing link")).to_have_value(
        re.compile("^ferry-pair:")
    )
    await expect(typed.locator(".pairing-server")).to_have_text(ferry.url.rstrip("/"))
    await expect(typed.locator(".pairing-code")).to_have_text(re.compile(r"^[A-Z0-9-]{20,}$"))
    await expect(dialog.get_by_text("or", exact=True)).to_be_visible()
    assert problems.messages == []


async def test_cookie_notice_has_one_button_when_nothing_is_optional(
    fresh_page: Page, ferry: LiveFerry, problems: PageProblems
) -> None:
    page = fresh_page
    await page.goto(ferry.url)
    notice = page.get_by_role("region", name="Cookie notice")
    await expect(notice).to_contain_text("both essential")
    await expect(notice).to_contain_text("nothing to turn off")
    await expect(notice.get_by_role("button")).to_have_count(1)
    await notice.get_by_role("button", name="OK").click()
    await expect(notice).to_be_hidden()
    assert problems.messages == []


# ---- password reset across a reload --------------------------------------------------------


async def test_the_reset_code_step_survives_a_reload(
    page: Page, ferry: LiveFerry, problems: PageProblems
) -> None:
    await page.goto(ferry.url)
    await page.get_by_role("button", name="Forgot password?").click()
    await page.get_by_label("Phone number").fill(PHONE)
    await page.get_by_role("button", name="Send code").click()
    boxes = page.get_by_role("group", name="Reset code").get_by_role("textbox")
    await expect(boxes.first).to_be_focused()

    await page.reload()  # e.g. to read the text message on the same phone
    await expect(page.get_by_role("heading", name="Reset your password")).to_be_visible()
    await expect(boxes.first).to_be_focused()
    await expect(page.get_by_role("status").filter(has_text=PHONE)).to_be_visible()
    await page.keyboard.type(await ferry.code_for(PHONE))
    await page.get_by_label("New password").fill("a brand new passphrase")
    await page.get_by_role("button", name="Set new password").click()
    await expect(page.get_by_role("button", name="Start chat")).to_be_visible()
    assert problems.messages == []


# ---- touch screens ------------------------------------------------------------------------


async def test_no_keyboard_shortcuts_button_on_a_touch_screen(
    browser: Browser, ferry: LiveFerry, problems: PageProblems
) -> None:
    for touch in (True, False):
        context = await browser.new_context(
            viewport={"width": 1280, "height": 720}, locale="en-US", has_touch=touch
        )
        await context.add_init_script("document.cookie = 'accept_cookies=yes; Path=/'")
        page = await context.new_page()
        problems.watch(page)
        await sign_in(page, ferry)
        await expect(page.get_by_role("button", name="Start chat")).to_be_visible()
        shortcuts = page.get_by_role("button", name="Keyboard shortcuts", include_hidden=True)
        hint = page.get_by_text("Press ? for keyboard shortcuts.")
        if touch:
            await expect(shortcuts).to_be_hidden()
            await expect(hint).to_be_hidden()
        else:
            await expect(shortcuts).to_be_visible()
            await expect(hint).to_be_visible()
        await context.close()
    assert problems.messages == []
