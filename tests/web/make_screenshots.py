"""Screenshots of the web client for the docs: ``python -m tests.web.make_screenshots``.

Starts the real server on a throwaway database, seeds a few conversations and writes
``docs/screenshot-*.png``. Not a test; it only shows what the tests check.
"""

from __future__ import annotations

import asyncio
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.web.conftest import PASSWORD, PHONE, ROOT, LiveFerry, _start_ferry, launch_browser

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
            await convs.apply_send_status(ferry.account_id, oid, status, error)

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


async def main() -> None:
    DOCS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        server, ferry = await _start_ferry(Path(tmp), verified=True)
        try:
            await seed(ferry)
            async with launch_browser() as browser:
                for scheme in ("light", "dark"):
                    ctx = await browser.new_context(
                        viewport={"width": 1280, "height": 720}, color_scheme=scheme, locale="en-US"
                    )
                    page = await ctx.new_page()
                    await page.goto(ferry.url)
                    await page.get_by_label("Phone number").fill(PHONE)
                    suffix = "" if scheme == "light" else "-dark"
                    await page.screenshot(path=DOCS / f"screenshot-signin{suffix}.png")
                    await page.get_by_label("Password").fill(PASSWORD)
                    await page.keyboard.press("Enter")
                    await page.get_by_role("button", name="Start chat").wait_for()
                    await page.get_by_role("navigation").get_by_role("button").first.click()
                    await page.get_by_text("blue umbrella").wait_for()
                    await page.get_by_role("textbox", name="Message to +15550100002").fill(
                        "On my way"
                    )
                    await page.wait_for_timeout(300)
                    await page.screenshot(path=DOCS / f"screenshot-conversation{suffix}.png")
                    if scheme == "light":
                        await page.set_viewport_size({"width": 390, "height": 760})
                        await page.wait_for_timeout(200)
                        await page.screenshot(path=DOCS / "screenshot-narrow-thread.png")
                        await page.get_by_role("button", name="Back to conversations").click()
                        await page.wait_for_timeout(200)
                        await page.screenshot(path=DOCS / "screenshot-narrow-list.png")
                    await ctx.close()
        finally:
            await server.close()


if __name__ == "__main__":
    asyncio.run(main())
