"""Fixtures for the browser tests: Debian's Chromium driven by Playwright, a static
server for in-page module tests, and the real Ferry server with a seeded account."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import argon2
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, ConsoleMessage, Page, expect

from tests.chromium import launch
from tests.fakes.sms import FakeSms

# Assertions wait for the page, not for a fixed time: on a loaded 2-core CI machine a
# server answer can take seconds. A passing check returns as soon as it holds.
expect.set_options(timeout=15_000)

ROOT = Path(__file__).resolve().parents[2]
WEB_CLIENT = ROOT / "web_client"
JS_TESTS = Path(__file__).resolve().parent / "js"
# Same policy as the server sends, so inline scripts/styles fail here too.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
PHONE = "+15550100001"
PASSWORD = "correct horse battery"


launch_browser = launch


@dataclass
class PageProblems:
    """Console errors, uncaught exceptions and CSP violations seen by a page."""

    messages: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.messages.append(f"pageerror: {exc}"))

    def _console(self, msg: ConsoleMessage) -> None:
        # Chromium logs every 4xx the app handles on purpose (401 at start, wrong password).
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            self.messages.append(f"console: {msg.text}")


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with launch_browser() as b:
        yield b


@pytest.fixture
def problems() -> PageProblems:
    return PageProblems()


@pytest.fixture
async def page(browser: Browser, problems: PageProblems) -> AsyncIterator[Page]:
    """A page whose visitor already answered the cookie notice (tests of the notice use
    ``fresh_page``), so the notice never covers what a test clicks."""
    context = await browser.new_context(viewport={"width": 1280, "height": 720}, locale="en-US")
    await context.add_init_script(
        "document.cookie = 'accept_cookies=no; Path=/; Max-Age=600; SameSite=Lax'"
    )
    pg = await context.new_page()
    problems.watch(pg)
    yield pg
    await context.close()


@pytest.fixture
async def fresh_page(browser: Browser, problems: PageProblems) -> AsyncIterator[Page]:
    """A first visit: no cookies at all."""
    context = await browser.new_context(viewport={"width": 1280, "height": 720}, locale="en-US")
    pg = await context.new_page()
    problems.watch(pg)
    yield pg
    await context.close()


# ---- static server: web_client + JS unit tests --------------------------------------


def static_app() -> web.Application:
    async def blank(_: web.Request) -> web.Response:
        return web.Response(text="<!doctype html><title>test</title>", content_type="text/html")

    @web.middleware
    async def csp(request: web.Request, handler):  # type: ignore[no-untyped-def]
        resp = await handler(request)
        resp.headers["Content-Security-Policy"] = CSP
        resp.headers["Cache-Control"] = "no-store"
        return resp

    app = web.Application(middlewares=[csp])
    app.router.add_get("/", blank)
    app.router.add_static("/static/", WEB_CLIENT)
    app.router.add_static("/tests/", JS_TESTS)
    return app


@pytest.fixture
async def static_site() -> AsyncIterator[str]:
    server = TestServer(static_app(), host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("/"))
    await server.close()


# ---- the real server ----------------------------------------------------------------


@dataclass
class LiveFerry:
    """A running Ferry server with one verified account and one (offline) bridge."""

    url: str
    svc: object
    account_id: int
    device_id: int
    sms: FakeSms = field(default_factory=FakeSms)
    _keys: int = 0

    async def drop_tabs(self) -> None:
        """Have the server drop every live tab of the account (as if each fell too far
        behind). Waits until a tab is following first: the page shows "Connected" as
        soon as its socket opens, before the server has taken its subscription."""
        fanout = self.svc.fanout  # type: ignore[attr-defined]
        for _ in range(400):
            if fanout.following(self.account_id):
                break
            await asyncio.sleep(0.025)
        fanout.drop_all(self.account_id)

    async def code_for(self, number: str) -> str:
        """The code of the last SMS sent to ``number`` (sends run in the background)."""
        await self.svc.background.drain()  # type: ignore[attr-defined]
        return self.sms.last_code(number)

    async def incoming(
        self,
        sender: str,
        body: str,
        at: datetime | None = None,
        *,
        incomplete: bool = False,
        attachments: tuple[Any, ...] = (),
    ) -> None:
        """An SMS arrives through the bridge: stored, then announced, like the device path;
        ``incomplete``: some parts of a long SMS never arrived; ``attachments``: MMS parts
        (``protocol.messages.Attachment``)."""
        from server.hub import ChangesHint
        from server.storage.conversations import Inbound

        self._keys += 1
        line_id = (await self.svc.lines.for_account(self.account_id))[0].id  # type: ignore[attr-defined]
        key = f"k{self._keys}-{secrets.token_hex(4)}"
        item = Inbound(key, line_id, sender, body, at or datetime.now(UTC), incomplete, attachments)
        svc = self.svc
        await svc.conversations.ingest_inbound(
            self.account_id, self.device_id, [item], datetime.now(UTC)
        )  # type: ignore[attr-defined]
        svc.hub.publish(
            self.account_id, ChangesHint(await svc.conversations.current_seq(self.account_id))
        )  # type: ignore[attr-defined]

    async def add_line(self, number: str, label: str) -> int:
        """A second, verified SIM on the account."""
        from sqlalchemy import update

        from server.storage.lines import insert_line
        from server.storage.schema import lines

        async with self.svc.engine.begin() as conn:  # type: ignore[attr-defined]
            now = datetime.now(UTC)
            line_id = await insert_line(conn, self.account_id, number, now, now)
            await conn.execute(update(lines).where(lines.c.id == line_id).values(label=label))
        return line_id

    async def set_contacts(self, entries: list[tuple[str, str]]) -> None:
        """The bridge uploads the phonebook of the first line."""
        line_id = (await self.svc.lines.for_account(self.account_id))[0].id  # type: ignore[attr-defined]
        await self.svc.contacts.replace(self.account_id, line_id, entries)  # type: ignore[attr-defined]

    async def delete_elsewhere(self, thread_id: int) -> None:
        """Another client deletes a conversation; tombstones reach this browser."""
        from server.hub import ChangesHint

        svc = self.svc
        await svc.conversations.delete_thread(self.account_id, thread_id)  # type: ignore[attr-defined]
        svc.hub.publish(
            self.account_id, ChangesHint(await svc.conversations.current_seq(self.account_id))
        )  # type: ignore[attr-defined]

    async def thread_ids(self) -> list[int]:
        threads, _ = await self.svc.conversations.threads(self.account_id)  # type: ignore[attr-defined]
        return [t.id for t in threads]

    async def report_status(self, status: str, error: str | None = None) -> None:
        """The bridge reports on every outgoing message still in the outbox."""
        from sqlalchemy import select

        from server.hub import ChangesHint
        from server.storage.schema import outbox

        svc = self.svc
        async with svc.engine.connect() as conn:  # type: ignore[attr-defined]
            rows = await conn.execute(
                select(outbox.c.id).where(outbox.c.account_id == self.account_id)
            )
            ids = [r[0] for r in rows]
        for outbox_id in ids:
            await settle(svc, self.account_id, self.device_id, outbox_id, status, error)
        svc.hub.publish(
            self.account_id, ChangesHint(await svc.conversations.current_seq(self.account_id))
        )  # type: ignore[attr-defined]


async def _start_ferry(tmp_path: Path, *, verified: bool) -> tuple[TestServer, LiveFerry]:
    from server.api.common import SERVICES
    from server.app import create_app
    from server.config import Config

    # The cheapest argon2 parameters keep sign-up and reset tests fast.
    app = create_app(Config(data_dir=tmp_path / "var", password_params=argon2.profiles.CHEAPEST))
    # Open browser sockets would otherwise hold shutdown for the default 60 s.
    server = TestServer(app, host="127.0.0.1", shutdown_timeout=1.0)
    await server.start_server()
    svc = app[SERVICES]
    now = datetime.now(UTC)
    account_id = await svc.accounts.create(
        PHONE, svc.passwords.hash(PASSWORD), now, verified_at=now if verified else None
    )
    device_id = await svc.devices.create(account_id, "Pixel 8", secrets.token_bytes(32), now)
    sms = FakeSms()
    svc.verification.gateway = sms
    return server, LiveFerry(str(server.make_url("/")), svc, account_id, device_id, sms)


@pytest.fixture
async def ferry(tmp_path: Path) -> AsyncIterator[LiveFerry]:
    server, live = await _start_ferry(tmp_path, verified=True)
    yield live
    await server.close()


@pytest.fixture
async def ferry_unverified(tmp_path: Path) -> AsyncIterator[LiveFerry]:
    server, live = await _start_ferry(tmp_path, verified=False)
    yield live
    await server.close()


async def settle(
    svc: Any, account_id: int, device_id: int, outbox_id: int, status: str, error: str | None
) -> None:
    """What a bridge does with an outgoing message: hold the line, claim, report."""
    line_ids = [line.id for line in await svc.lines.for_account(account_id)]
    await svc.outbox.renew(account_id, device_id, line_ids, svc.clock.now())
    await svc.outbox.claim(account_id, outbox_id, device_id, svc.clock.now())
    await svc.outbox.apply_status(account_id, device_id, outbox_id, status, error)
