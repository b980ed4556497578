"""Screenshots of the web client for the docs: ``python -m tests.web.make_screenshots``.

Starts the real server on a throwaway database, seeds a few conversations and writes
``docs/screenshot-*.png``. Not a test; it only shows what the tests check.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.async_api import Browser, Page

from tests.web.conftest import (
    PASSWORD,
    PHONE,
    ROOT,
    LiveFerry,
    _start_ferry,
    launch_browser,
    settle,
)

DOCS = ROOT / "docs"


async def seed(ferry: LiveFerry) -> None:
    from server.storage.conversations import Inbound

    svc = ferry.svc
    now = datetime.now(UTC)
    convs = svc.conversations  # type: ignore[attr-defined]
    line_id = (await svc.lines.for_account(ferry.account_id))[0].id  # type: ignore[attr-defined]

    async def inbound(sender: str, body: str, ago: timedelta) -> None:
        ferry._keys += 1
        await convs.ingest_inbound(
            ferry.account_id,
            ferry.device_id,
            [Inbound(f"s{ferry._keys}", line_id, sender, body, now - ago)],
            now,
        )

    async def outbound(
        to: str, body: str, ago: timedelta, status: str, cid: str, error: str | None = None
    ) -> None:
        msg = await convs.create_outgoing(ferry.account_id, line_id, to, body, cid, now - ago)
        from sqlalchemy import select

        from server.storage.schema import outbox

        async with svc.engine.connect() as conn:  # type: ignore[attr-defined]
            oid = (
                await conn.execute(select(outbox.c.id).where(outbox.c.message_id == msg.id))
            ).scalar_one()
        if status != "queued":
            await settle(svc, ferry.account_id, ferry.device_id, oid, status, error)

    ada = "+15550100002"
    await inbound(ada, "Are we still on for Saturday?", timedelta(days=1, hours=3))
    await outbound(
        ada, "Yes! 10am at the market?", timedelta(days=1, hours=2, minutes=50), "delivered", "c1"
    )
    await inbound(ada, "Perfect. I'll bring coffee ☕", timedelta(days=1, hours=2, minutes=45))
    await inbound(ada, "Running 5 minutes late, save me a spot", timedelta(minutes=14))
    await outbound(
        ada,
        "No rush — I'm by the flower stand.\nLook for the blue umbrella.",
        timedelta(minutes=12),
        "delivered",
        "c2",
    )
    await outbound(ada, "Also, did you get the tickets?", timedelta(minutes=2), "sent", "c3")
    await inbound("+15550100003", "Your verification code is 482913", timedelta(hours=5))
    await inbound("+15550100004", "Package delivered to your front door.", timedelta(days=3))
    await outbound(
        "+15550100005",
        "Happy birthday!! 🎉",
        timedelta(days=9),
        "failed",
        "c4",
        "Network rejected the message",
    )
    await inbound("+15550100006", "Can you call me when you get a chance?", timedelta(minutes=40))
    await svc.contacts.replace(  # type: ignore[attr-defined]
        ferry.account_id,
        line_id,
        [
            ("Ada Lovelace", ada),
            ("Grace Hopper", "+15550100006"),
            ("Parcel Service", "+15550100004"),
        ],
    )


async def bridge_online(ferry: LiveFerry) -> None:
    """Show the seeded bridge as connected with a modem report, as a real bridge would
    be (the screenshots have no modem behind them)."""
    import logging

    from protocol.messages import ModemInfo
    from server.ws.registry import DeviceConnection

    svc = ferry.svc
    device = next(
        d
        for d in await svc.devices.for_account(ferry.account_id)  # type: ignore[attr-defined]
        if d.id == ferry.device_id
    )

    async def ignore(*_: object) -> None:
        return None

    svc.registry.add(  # type: ignore[attr-defined]
        DeviceConnection(
            device=device,
            send=ignore,
            close=ignore,
            log=logging.getLogger("screenshots"),
            modem=ModemInfo(signal_dbm=-85, operator="Ferry Mobile"),
        )
    )
    svc.devices_changed(ferry.account_id)  # type: ignore[attr-defined]


async def shot(page: Page, name: str, suffix: str) -> None:
    await page.wait_for_timeout(250)
    await page.screenshot(path=DOCS / f"screenshot-{name}{suffix}.png")


async def signed_out_screens(browser: Browser, ferry: LiveFerry, scheme: str, suffix: str) -> None:
    """Sign-in (first visit, with the cookie notice), sign-up and verify."""
    ctx = await browser.new_context(
        viewport={"width": 1280, "height": 720},
        color_scheme=scheme,
        locale="en-US",  # type: ignore[arg-type]
    )
    page = await ctx.new_page()
    await page.goto(ferry.url)
    await page.get_by_label("Phone number").fill(PHONE)
    await shot(page, "signin", suffix)
    await page.get_by_role("button", name="OK").click()
    await page.get_by_role("button", name="Create an account").click()
    number = "+15550100091" if scheme == "light" else "+15550100092"
    await page.get_by_label("Phone number").fill(number)
    await page.get_by_label("Password").fill("a long passphrase")
    await page.get_by_role("checkbox", name=re.compile("accept the terms")).check()
    await shot(page, "signup", suffix)
    await page.get_by_label("Password").press("Enter")
    await page.get_by_role("heading", name="Verify your phone number").wait_for()
    await page.keyboard.type("482")
    await shot(page, "verify", suffix)
    await ctx.close()


async def main() -> None:
    DOCS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        server, ferry = await _start_ferry(Path(tmp), verified=True)
        try:
            await seed(ferry)
            await bridge_online(ferry)
            async with launch_browser() as browser:
                for scheme in ("light", "dark"):
                    suffix = "" if scheme == "light" else "-dark"
                    await signed_out_screens(browser, ferry, scheme, suffix)
                    ctx = await browser.new_context(
                        viewport={"width": 1280, "height": 720}, color_scheme=scheme, locale="en-US"
                    )
                    await ctx.add_cookies(
                        [{"name": "accept_cookies", "value": "yes", "url": ferry.url}]
                    )
                    page = await ctx.new_page()
                    await page.goto(ferry.url)
                    await page.get_by_label("Phone number").fill(PHONE)
                    await page.get_by_label("Password").fill(PASSWORD)
                    await page.keyboard.press("Enter")
                    await page.get_by_role("button", name="Start chat").wait_for()
                    await page.get_by_role("navigation").get_by_role("button").first.click()
                    await page.get_by_text("blue umbrella").wait_for()
                    await page.get_by_role("textbox", name="Message to Ada Lovelace").fill(
                        "On my way"
                    )
                    await shot(page, "conversation", suffix)
                    if scheme == "light":
                        await page.get_by_role("searchbox", name="Search messages").fill("umbrella")
                        await page.get_by_text("1 message found").wait_for()
                        await shot(page, "search", suffix)
                        await page.get_by_role("button", name="Clear search").click()
                        await page.set_viewport_size({"width": 390, "height": 760})
                        await shot(page, "narrow-thread", suffix)
                        await page.get_by_role("button", name="Back to conversations").click()
                        await shot(page, "narrow-list", suffix)
                        await page.set_viewport_size({"width": 1280, "height": 720})
                    await page.get_by_role("button", name="Settings").click()
                    await (
                        page.get_by_role("list", name="Signed-in sessions")
                        .get_by_role("listitem")
                        .first.wait_for()
                    )
                    await shot(page, "settings", suffix)
                    await page.get_by_role("button", name="Link a phone").click()
                    await page.get_by_role("img", name="Pairing QR code").wait_for()
                    await shot(page, "pairing", suffix)
                    await ctx.close()
        finally:
            await server.close()


if __name__ == "__main__":
    asyncio.run(main())
