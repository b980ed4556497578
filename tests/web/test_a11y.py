"""axe-core in the page, light and dark: no serious or critical violations on the main
screens. axe's script comes from the ``axe-playwright-python`` package (test extra)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.web.conftest import LiveFerry, PageProblems
from tests.web.test_ui import PEER, sign_in

pytestmark = pytest.mark.browser

axe_package = pytest.importorskip("axe_playwright_python")
AXE_JS = (Path(axe_package.__file__).parent / "axe.min.js").read_text()


async def violations(page: Page) -> list[str]:
    # Injected through the DevTools protocol (evaluate), so the page's CSP does not apply.
    await page.evaluate(AXE_JS)
    found = await page.evaluate(
        """async () => {
            const r = await axe.run(document, {resultTypes: ['violations']});
            return r.violations
                .filter(v => v.impact === 'serious' || v.impact === 'critical')
                .map(v => `${v.id} (${v.impact}): `
                    + v.nodes.map(n => n.target.join(' ')).join(', '));
        }"""
    )
    return list(found)


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_no_serious_violations(
    browser: Browser, ferry: LiveFerry, problems: PageProblems, scheme: str
) -> None:
    context = await browser.new_context(
        viewport={"width": 1280, "height": 720},
        locale="en-US",
        color_scheme=scheme,  # type: ignore[arg-type]
    )
    page = await context.new_page()
    problems.watch(page)
    await ferry.incoming(PEER, "Are we still on for Saturday?")
    await page.goto(ferry.url)
    await expect(page.get_by_role("region", name="Cookie notice")).to_be_visible()
    report: dict[str, list[str]] = {"sign-in": await violations(page)}
    await page.get_by_role("button", name="OK").click()

    await page.get_by_role("button", name="Create an account").click()
    report["sign-up"] = await violations(page)
    await page.get_by_role("button", name="Sign in").click()

    await sign_in(page, ferry)
    await (
        page.get_by_role("navigation", name="Conversations")
        .get_by_role("button", name=re.compile("Saturday"))
        .click()
    )
    await page.get_by_role("textbox", name=f"Message to {PEER}").fill("Yes, 10am")
    await expect(page.locator(".compose-counter")).not_to_be_empty()
    report["conversation"] = await violations(page)

    await page.get_by_role("searchbox", name="Search messages").fill("saturday")
    await expect(page.get_by_text("1 message found")).to_be_visible()
    report["search"] = await violations(page)
    await page.get_by_role("button", name="Clear search").click()

    await page.get_by_role("button", name="Settings").click()
    await expect(
        page.get_by_role("list", name="Signed-in sessions").get_by_role("listitem")
    ).to_have_count(1)
    report["settings"] = await violations(page)
    await page.get_by_role("button", name="Link a phone").click()
    await expect(page.get_by_role("img", name="Pairing QR code")).to_be_visible()
    report["pairing"] = await violations(page)
    await page.keyboard.press("Escape")
    await page.get_by_role("button", name="Privacy and your data").click()
    await expect(page.get_by_text("No one has looked into your account.")).to_be_visible()
    report["privacy"] = await violations(page)

    await page.get_by_role("button", name="Keyboard shortcuts").click()
    report["shortcuts"] = await violations(page)
    await context.close()
    assert {k: v for k, v in report.items() if v} == {}
    assert problems.messages == []


async def test_verify_screen_has_no_serious_violations(
    page: Page, ferry_unverified: LiveFerry
) -> None:
    await sign_in(page, ferry_unverified)
    await expect(page.get_by_role("heading", name="Verify your phone number")).to_be_visible()
    assert await violations(page) == []
