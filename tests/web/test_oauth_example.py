"""The example third-party client (examples/oauth-client) against the real server, in
Chromium: sign in with Ferry, consent limited to one conversation, the shared
conversation listed, a new message arriving live, a reply sent; then the user sees the
app under Connected apps with what it did, revokes it, and the app is cut off at once."""

from __future__ import annotations

import importlib.util
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from playwright.async_api import Page, expect

from tests.web.conftest import PASSWORD, PHONE, LiveFerry, PageProblems
from tests.web.test_a11y import violations

pytestmark = pytest.mark.browser

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "oauth-client" / "server.py"


def _example_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("ferry_oauth_example", EXAMPLE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
async def example(ferry: LiveFerry) -> AsyncIterator[str]:
    """The example app registered in Ferry (public client) and serving on loopback (its
    socket is bound first: the redirect URI names the port)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    done = await ferry.svc.oauth.register(  # type: ignore[attr-defined]
        account_id=ferry.account_id,
        name="Example Inbox",
        redirect_uris=[f"http://127.0.0.1:{port}/callback"],
        confidential=False,
    )
    app = _example_module().make_app(ferry.url.rstrip("/"), done.client.client_id)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    yield f"http://127.0.0.1:{port}/"
    await runner.cleanup()


async def test_example_app_signs_in_reads_live_replies_and_is_revoked(
    page: Page, ferry: LiveFerry, example: str, problems: PageProblems
) -> None:
    await ferry.incoming("+15550100002", "Shared hello")
    await ferry.incoming("+15550100003", "Private note")
    shared, private = sorted(await ferry.thread_ids())
    await page.goto(example)
    await page.get_by_role("button", name="Sign in with Ferry").click()

    # Ferry's consent screen: sign in first, then see who asks and for what.
    await page.get_by_label("Phone number").fill(PHONE)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Allow Example Inbox?")).to_be_visible()
    await expect(page.get_by_text("Read your conversations and their messages")).to_be_visible()
    await expect(page.get_by_text("Send text messages from your number")).to_be_visible()
    assert "request=" not in page.url  # the request's handle left the address bar
    assert await violations(page) == []  # axe: no serious or critical problems
    await page.get_by_label("Only the ones I choose").check()
    allow = page.get_by_role("button", name="Allow")
    await expect(allow).to_be_disabled()  # limited, but nothing chosen yet
    await page.get_by_label("+15550100002").check()
    await page.get_by_label("For how long").select_option("1d")
    await allow.click()

    # Back in the app: only the shared conversation, then live updates.
    await expect(page.get_by_role("status")).to_have_text(
        "Connected to Ferry: 1 conversation(s) shared. Live."
    )
    threads = page.locator("#threads li")
    await expect(threads).to_have_count(1)
    await expect(threads.first).to_have_attribute("data-thread", str(shared))
    await expect(page.get_by_text("Private note")).to_have_count(0)
    assert "code=" not in page.url
    await ferry.incoming("+15550100003", "Still private")
    await ferry.incoming("+15550100002", "Live hello")
    await expect(page.locator("#live li")).to_have_text(["From +15550100002: Live hello"])

    await page.get_by_label("Message").fill("Reply from the app")
    await page.get_by_role("button", name="Send").click()
    await expect(page.get_by_role("status")).to_have_text("Sent.")
    msgs, _ = await ferry.svc.conversations.thread_messages(  # type: ignore[attr-defined]
        ferry.account_id, shared, before=None, limit=10
    )
    assert msgs[-1].body == "Reply from the app" and msgs[-1].direction == "out"

    # The user's side: Connected apps shows the grant and what it did; one click revokes.
    ferry_tab = await page.context.new_page()
    await ferry_tab.goto(ferry.url + "settings/apps")
    grant = ferry_tab.locator("article[data-grant]")
    await expect(grant.get_by_role("heading", name="Example Inbox")).to_be_visible()
    await expect(grant.get_by_text("Until ")).to_be_visible()  # one day, not forever
    await grant.get_by_role("button", name="What it did").click()
    assert await violations(ferry_tab) == []
    await expect(grant.get_by_text("sent a message to +15550100002")).to_be_visible()
    await expect(grant.get_by_text(f"read conversation {private}")).to_have_count(0)
    await grant.get_by_role("button", name="Revoke Example Inbox").click()
    await expect(
        ferry_tab.get_by_text("Example Inbox can no longer use your account.")
    ).to_be_visible()
    await expect(page.get_by_role("status")).to_have_text("Your access was revoked in Ferry.")
    assert problems.messages == []
