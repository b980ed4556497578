"""The sync server application: ``create_app(config)``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import WSCloseCode, web
from sqlalchemy import text

import web_client
from server.api import conversations, devices, pairing, session
from server.api.common import SERVICES, json_response
from server.clock import Clock, SystemClock
from server.config import Config
from server.keys import load_server_key
from server.middleware import csrf_middleware, errors_middleware, security_headers
from server.services import Services
from server.storage.engine import create_engine, migrate
from server.ws import browser, device

STATIC_DIR = Path(web_client.__file__).parent


def create_app(
    config: Config, *, clock: Clock | None = None, tls_pin: str | None = None
) -> web.Application:
    """Build the server application. Storage opens (and migrates) on startup.

    ``tls_pin`` is the SHA-256 of a self-signed certificate the server is reached with; it
    goes into pairing URIs so bridges can pin it.
    """
    app = web.Application(
        middlewares=[errors_middleware, csrf_middleware],
        client_max_size=config.max_body_bytes,
    )
    app.on_response_prepare.append(security_headers)

    async def storage_ctx(app: web.Application) -> AsyncIterator[None]:
        if config.db_url.startswith("sqlite"):
            # Owner-only: the database holds password hashes and message bodies.
            config.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        server_key = load_server_key(config)
        engine = create_engine(config.db_url)
        await migrate(engine)
        app[SERVICES] = Services.build(
            config, clock or SystemClock(), engine, server_key=server_key, tls_pin=tls_pin
        )
        yield
        await engine.dispose()

    app.cleanup_ctx.append(storage_ctx)
    app.on_shutdown.append(_close_sockets)
    app.router.add_routes(session.routes)
    app.router.add_routes(conversations.routes)
    app.router.add_routes(devices.routes)
    app.router.add_routes(pairing.routes)
    app.router.add_routes(device.routes)
    app.router.add_routes(browser.routes)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/", index)
    app.router.add_static("/static/", STATIC_DIR, show_index=False, follow_symlinks=False)
    return app


async def _close_sockets(app: web.Application) -> None:
    # Handlers wait on their sockets; closing them lets shutdown finish at once.
    for ws in list(app[SERVICES].sockets):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")


async def healthz(request: web.Request) -> web.Response:
    svc = request.app[SERVICES]
    async with svc.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
    return json_response({"status": "ok"})


async def index(request: web.Request) -> web.FileResponse:
    resp = web.FileResponse(STATIC_DIR / "index.html")
    resp.headers["Cache-Control"] = "no-cache"
    return resp
