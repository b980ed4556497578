"""Attachments in the bubble: pictures inline (lazy, open full size), other files as a
download chip with name and size.

The server side of attachments is built on another branch. Until it is merged this test
feeds the page through the network seam: the real server's message page is fetched and
an ``attachments`` list (the agreed ``MessageView`` contract) is added to it, and
``GET /api/v1/attachments/{id}`` answers with real bytes. Everything in the page (parsing,
view model, DOM, the production CSP) runs for real.
"""

from __future__ import annotations

import json
import re
import struct
import zlib

import pytest
from playwright.async_api import Page, Route, expect

from tests.web.conftest import LiveFerry, PageProblems
from tests.web.test_a11y import violations
from tests.web.test_ui import PEER, sign_in

pytestmark = pytest.mark.browser

ATTACHMENTS = [
    {"id": 7, "mime": "image/png", "size": 1234, "name": "beach.png"},
    {"id": 8, "mime": "application/pdf", "size": 254_000, "name": "tickets.pdf"},
]


def png(width: int = 40, height: int = 30) -> bytes:
    """A small solid PNG, made here rather than shipped."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x20\x80\xd0" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


async def feed_attachments(page: Page, body: str) -> None:
    async def messages(route: Route) -> None:
        response = await route.fetch()
        page_json = await response.json()
        for m in page_json["messages"]:
            if m["body"] == body:
                m["attachments"] = ATTACHMENTS
        await route.fulfill(response=response, body=json.dumps(page_json))

    async def bytes_of(route: Route) -> None:
        if "/attachments/7" in route.request.url:
            await route.fulfill(status=200, content_type="image/png", body=png())
        else:
            await route.fulfill(
                status=200,
                content_type="application/pdf",
                headers={"Content-Disposition": 'attachment; filename="tickets.pdf"'},
                body=b"%PDF-1.4\n%%EOF\n",
            )

    await page.route(re.compile(r"/api/v1/threads/\d+/messages"), messages)
    await page.route(re.compile(r"/api/v1/attachments/"), bytes_of)


async def test_image_inline_and_file_chip(
    page: Page, ferry: LiveFerry, problems: PageProblems
) -> None:
    await ferry.incoming(PEER, "photos from the trip")
    await feed_attachments(page, "photos from the trip")
    await sign_in(page, ferry)
    nav = page.get_by_role("navigation", name="Conversations")
    await nav.get_by_role("button", name=re.compile("photos from the trip")).click()
    bubble = page.get_by_role("log").locator(".msg").filter(has_text="photos from the trip")

    image = bubble.get_by_role("img", name="beach.png")
    await expect(image).to_be_visible()
    await expect(image).to_have_attribute("loading", "lazy")
    await expect(image).to_have_attribute("src", "/api/v1/attachments/7")
    # Drawn under the production CSP (img-src 'self'): the bytes decoded.
    assert await image.evaluate("img => img.complete && img.naturalWidth") == 40
    box = await image.bounding_box()
    assert box is not None and box["width"] <= 320 and box["height"] <= 320

    link = bubble.get_by_role("link", name="beach.png")
    await expect(link).to_have_attribute("target", "_blank")
    async with page.context.expect_page() as opened:
        await link.focus()
        await page.keyboard.press("Enter")
    full = await opened.value
    assert full.url.endswith("/api/v1/attachments/7")
    await full.close()

    chip = bubble.get_by_role("link", name="Download tickets.pdf, 254 KB")
    await expect(chip).to_be_visible()
    await expect(chip).to_contain_text("tickets.pdf")
    await expect(chip).to_contain_text("254 KB")
    await expect(chip).to_have_attribute("href", "/api/v1/attachments/8?download=1")
    async with page.expect_download() as download:
        await chip.click()
    assert (await download.value).suggested_filename == "tickets.pdf"
    assert await violations(page) == []
    assert problems.messages == []
