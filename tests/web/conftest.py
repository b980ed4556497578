"""Fixtures for the browser tests: Debian's Chromium driven by Playwright, a static
server for in-page module tests, and the real Ferry server with a seeded account."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, ConsoleMessage, Page

from tests.chromium import launch

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
    _keys: int = 0

    async def incoming(self, sender: str, body: str, at: datetime | None = None) -> None:
        """An SMS arrives through the bridge: stored, then announced, like the device path."""
        from server.hub import ChangesHint
        from server.storage.conversations import Inbound

        self._keys += 1
        line_id = (await self.svc.lines.for_account(self.account_id))[0].id  # type: ignore[attr-defined]
        item = Inbound(
            f"k{self._keys}-{secrets.token_hex(4)}", line_id, sender, body, at or datetime.now(UTC)
        )
        svc = self.svc
        await svc.conversations.ingest_inbound(
            self.account_id, self.device_id, [item], datetime.now(UTC)
        )  # type: ignore[attr-defined]
        svc.hub.publish(
            self.account_id, ChangesHint(await svc.conversations.current_seq(self.account_id))
        )  # type: ignore[attr-defined]

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
            await svc.conversations.apply_send_status(self.account_id, outbox_id, status, error)  # type: ignore[attr-defined]
        svc.hub.publish(
            self.account_id, ChangesHint(await svc.conversations.current_seq(self.account_id))
        )  # type: ignore[attr-defined]


async def _start_ferry(tmp_path: Path, *, verified: bool) -> tuple[TestServer, LiveFerry]:
    from server.api.common import SERVICES
    from server.app import create_app
    from server.config import Config

    app = create_app(Config(data_dir=tmp_path / "var"))
    # Open browser sockets would otherwise hold shutdown for the default 60 s.
    server = TestServer(app, host="127.0.0.1", shutdown_timeout=1.0)
    await server.start_server()
    svc = app[SERVICES]
    now = datetime.now(UTC)
    account_id = await svc.accounts.create(
        PHONE, svc.passwords.hash(PASSWORD), now, verified_at=now if verified else None
    )
    device_id = await svc.devices.create(account_id, "Pixel 8", secrets.token_bytes(32), now)
    return server, LiveFerry(str(server.make_url("/")), svc, account_id, device_id)


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
