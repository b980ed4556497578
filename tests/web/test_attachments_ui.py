"""Attachments in the bubble: pictures inline (lazy, open full size), other files as a
download chip with name and size.

The MMS is stored the way the device path stores it (sealed at rest), and the page gets
its metadata and bytes from the real server: ``GET /api/v1/attachments/{id}`` decrypts
and serves them under the production CSP and download headers.
"""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from protocol.messages import Attachment
from tests.web.conftest import LiveFerry, PageProblems
from tests.web.test_a11y import violations
from tests.web.test_ui import PEER, sign_in

pytestmark = pytest.mark.browser

PDF = b"%PDF-1.4\n%%EOF\n" + b"%" * 253_985  # 254,000 bytes


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


async def mms(ferry: LiveFerry, body: str) -> None:
    await ferry.incoming(
        PEER,
        body,
        attachments=(
            Attachment(mime="image/png", data=png(), name="beach.png"),
            Attachment(mime="application/pdf", data=PDF, name="tickets.pdf"),
        ),
    )


async def test_image_inline_and_file_chip(
    page: Page, ferry: LiveFerry, problems: PageProblems
) -> None:
    await mms(ferry, "photos from the trip")
    await sign_in(page, ferry)
    nav = page.get_by_role("navigation", name="Conversations")
    await nav.get_by_role("button", name=re.compile("photos from the trip")).click()
    bubble = page.get_by_role("log").locator(".msg").filter(has_text="photos from the trip")

    image = bubble.get_by_role("img", name="beach.png")
    await expect(image).to_be_visible()
    await expect(image).to_have_attribute("loading", "lazy")
    await expect(image).to_have_attribute("src", re.compile(r"^/api/v1/attachments/\d+$"))
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
    assert full.url.endswith(str(await image.get_attribute("src")))
    await full.close()

    chip = bubble.get_by_role("link", name="Download tickets.pdf, 254 KB")
    await expect(chip).to_be_visible()
    await expect(chip).to_contain_text("tickets.pdf")
    await expect(chip).to_contain_text("254 KB")
    await expect(chip).to_have_attribute(
        "href", re.compile(r"^/api/v1/attachments/\d+\?download=1$")
    )
    async with page.expect_download() as download:
        await chip.click()
    got = await download.value
    assert got.suggested_filename == "tickets.pdf"
    assert Path(str(await got.path())).read_bytes() == PDF  # decrypted, byte for byte
    assert await violations(page) == []
    assert problems.messages == []
