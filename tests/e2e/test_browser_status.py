"""The status bar in real Chromium, fed by a real bridge on the emulated modem: the
modem's signal and network as the bridge reports them (live when the signal changes),
and the bridge going offline with a "last seen" when it stops."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.chromium import launch
from tests.e2e.conftest import PASSWORD, PHONE1, open_system

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

MINUS = "\u2212"  # the page writes dBm with a real minus sign, read aloud as "minus"


async def sign_in(page: Page, url: str) -> None:
    await page.goto(url)
    await page.get_by_label("Phone number").fill(PHONE1)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()


async def test_signal_operator_live_update_and_bridge_going_offline(tmp_path: Path) -> None:
    # The bridge re-reads the modem's status on every quiet poll, so a short poll makes
    # a signal change reach the page quickly.
    async with open_system(tmp_path, poll_interval=0.3) as (system, _):
        await asyncio.wait_for(system.bridge.modem_ready.wait(), 10)
        async with launch() as browser:
            page = await browser.new_page(viewport={"width": 1280, "height": 720})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await sign_in(page, system.url)
            status = page.get_by_role("group", name="Status")
            await expect(status.get_by_text("Connected", exact=True)).to_be_visible()
            await expect(status.get_by_text("e2e bridge connected")).to_be_visible()
            # The emulator answers AT+CSQ with rssi 20 (-73 dBm) and AT+COPS with its network.
            signal = status.get_by_role("img", name=f"Signal 4 of 4 bars ({MINUS}73 dBm)")
            await expect(signal).to_be_visible()
            await expect(signal).to_have_attribute("title", f"Signal 4 of 4 bars ({MINUS}73 dBm)")
            await expect(status.get_by_text("Ferry Mobile")).to_be_visible()

            # Reception drops: rssi 6 is -101 dBm, two bars; the page follows without reload.
            system.emulator.phone(PHONE1).modem.update_faults({"signal": 6})
            weak = status.get_by_role("img", name=f"Signal 2 of 4 bars ({MINUS}101 dBm)")
            await expect(weak).to_be_visible()

            await system.stop_bridge()
            await expect(status.get_by_text("e2e bridge offline")).to_be_visible()
            await expect(status.get_by_text("last seen just now")).to_be_visible()
            await expect(status.get_by_role("img", name="Signal", exact=False)).to_have_count(0)
            await expect(status.get_by_text("Ferry Mobile")).to_have_count(0)
            assert errors == []
