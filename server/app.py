"""The sync server application: ``create_app(config)``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from pathlib import Path

from aiohttp import web
from prometheus_client import CollectorRegistry
from sqlalchemy.exc import SQLAlchemyError

import web_client
from server.api import (
    accounts,
    attachments,
    consent,
    conversations,
    devices,
    lines,
    openapi,
    pairing,
    phone,
    privacy,
    session,
    takeout,
    terms,
)
from server.api.common import SERVICES
from server.auth.codes import load_code_key
from server.background import periodic
from server.clock import Clock, SystemClock
from server.config import Config
from server.consent.release import RELEASE_INTERVAL, release_broadcasts
from server.continuity import renew_mark
from server.health import READINESS, Readiness, healthz, readyz
from server.keys import load_server_key
from server.log import server_logger
from server.metrics import METRICS, OutboxCount, exposition, refusal, registry_for
from server.middleware import (
    access_log_middleware,
    csrf_middleware,
    errors_middleware,
    security_headers,
)
from server.oauth import api as oauth_api
from server.oauth import endpoints as oauth_endpoints
from server.oauth import live as oauth_live
from server.oauth.guard import oauth_guard
from server.privacy.takeout.jobs import Takeout
from server.services import Services
from server.shutdown import BACKGROUND_SHARE, close_sockets
from server.storage.compaction import Compacted, compact
from server.storage.engine import create_engine, migrate
from server.storage.runner import set_transaction_hook
from server.storage.sealed import load_master_key
from server.ws import browser, device

STATIC_DIR = Path(web_client.__file__).parent

METRICS_REGISTRY: web.AppKey[CollectorRegistry] = web.AppKey("metrics", CollectorRegistry)
OUTBOX_COUNT: web.AppKey[OutboxCount] = web.AppKey("outbox_count", OutboxCount)


def create_app(
    config: Config, *, clock: Clock | None = None, tls_pin: str | None = None
) -> web.Application:
    """Build the server application. Storage opens (and migrates) on startup.

    ``tls_pin`` is the SHA-256 of a self-signed certificate the server is reached with; it
    goes into pairing URIs so bridges can pin it.
    """
    app = web.Application(
        middlewares=[access_log_middleware, errors_middleware, oauth_guard, csrf_middleware],
        client_max_size=config.max_body_bytes,
    )
    app.on_response_prepare.append(security_headers)
    app[READINESS] = Readiness(config.redis_url)
    app[OUTBOX_COUNT] = OutboxCount()
    app[METRICS_REGISTRY] = registry_for(lambda: app[SERVICES], app[OUTBOX_COUNT])
    set_transaction_hook(METRICS.transaction)

    async def storage_ctx(app: web.Application) -> AsyncIterator[None]:
        # Owner-only: it holds the master key, and with SQLite the database.
        config.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        master = load_master_key(config.data_dir)
        server_key = load_server_key(config)
        engine = create_engine(config.db_url)
        await migrate(engine)
        key = load_code_key(config.data_dir / "code.key", config.code_key)
        svc = Services.build(
            config,
            clock or SystemClock(),
            engine,
            key,
            master,
            server_key=server_key,
            tls_pin=tls_pin,
        )
        if sealed := await svc.keys.seal_legacy_bodies():
            server_logger.info("sealed %d message bodies stored before encryption at rest", sealed)
        app[SERVICES] = svc
        await svc.oauth.maintain()
        await _check_continuity(svc)
        await svc.start()
        yield
        # A stop during a database outage still closes everything else.
        now = svc.clock.now()
        await _last_write("renew the node's mark", renew_mark(engine, config.data_dir, now))
        await svc.background.close(grace=config.shutdown_timeout * BACKGROUND_SHARE)
        await _last_write("write the last access-log rows", svc.access_log.flush())
        await svc.verification.gateway.close()
        await svc.close()
        await app[READINESS].close()
        await engine.dispose()

    app.cleanup_ctx.append(storage_ctx)
    app.cleanup_ctx.append(takeout_ctx)
    # Expired sessions lose their sockets within seconds; the access log is written in
    # batches and pruned to its retention.
    app.cleanup_ctx.append(
        periodic(
            "session-sweep",
            lambda a: a[SERVICES].config.sweep_interval,
            lambda a: a[SERVICES].sweep_sessions(),
        )
    )
    app.cleanup_ctx.append(
        periodic("access-log-flush", lambda a: 2.0, lambda a: a[SERVICES].access_log.flush())
    )
    app.cleanup_ctx.append(
        periodic("access-log-prune", lambda a: 3600.0, lambda a: a[SERVICES].prune_access_log())
    )
    # Tombstones older than the retention age go (cursors older than them resync); the
    # database is checked for having been replaced by an older backup.
    app.cleanup_ctx.append(
        periodic(
            "tombstone-compaction",
            lambda a: a[SERVICES].config.compaction_interval,
            lambda a: compact_tombstones(a[SERVICES]),
        )
    )
    # Privacy: rows of deleted accounts go (a deletion also starts this at once), and
    # messages older than an account's retention.
    app.cleanup_ctx.append(
        periodic(
            "account-purge",
            lambda a: a[SERVICES].config.compaction_interval,
            lambda a: a[SERVICES].purge_deleted(),
        )
    )
    app.cleanup_ctx.append(
        periodic(
            "retention",
            lambda a: a[SERVICES].config.compaction_interval,
            lambda a: a[SERVICES].apply_retention(),
        )
    )
    app.cleanup_ctx.append(
        periodic(
            "continuity",
            lambda a: a[SERVICES].config.continuity_interval,
            lambda a: _check_continuity(a[SERVICES]),
        )
    )
    # OAuth: keys rotate on time, expired records go, revoked apps' sockets close.
    app.cleanup_ctx.append(
        periodic("oauth-maintenance", lambda a: 3600.0, lambda a: a[SERVICES].oauth.maintain())
    )
    app.cleanup_ctx.append(
        periodic(
            "oauth-socket-sweep",
            lambda a: min(2.0, a[SERVICES].config.sweep_interval),
            lambda a: a[SERVICES].oauth.sweep_sockets(),
        )
    )
    # Broadcast messages whose time has come become outgoing messages (paced per line).
    app.cleanup_ctx.append(
        periodic(
            "broadcast-release",
            lambda a: RELEASE_INTERVAL,
            lambda a: release_broadcasts(a[SERVICES]),
        )
    )
    # Exports wait a day for their download; then (or once downloaded) their files go.
    app.cleanup_ctx.append(
        periodic("takeout-sweep", lambda a: 600.0, lambda a: a[takeout.TAKEOUT].sweep())
    )
    app.on_shutdown.append(close_sockets)
    app.router.add_routes(session.routes)
    app.router.add_routes(accounts.routes)
    app.router.add_routes(phone.routes)
    app.router.add_routes(openapi.routes)
    app.router.add_routes(conversations.routes)
    app.router.add_routes(consent.routes)
    app.router.add_routes(terms.routes)
    app.router.add_routes(attachments.routes)
    app.router.add_routes(devices.routes)
    app.router.add_routes(pairing.routes)
    app.router.add_routes(lines.routes)
    app.router.add_routes(privacy.routes)
    app.router.add_routes(takeout.routes)
    app.router.add_routes(device.routes)
    app.router.add_routes(browser.routes)
    app.router.add_routes(oauth_endpoints.routes)
    app.router.add_routes(oauth_api.routes)
    app.router.add_routes(oauth_live.routes)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/", index)
    app.router.add_static("/static/", STATIC_DIR, show_index=False, follow_symlinks=False)
    return app


async def takeout_ctx(app: web.Application) -> AsyncIterator[None]:
    """Exports and imports (``server/privacy/takeout``), files under the data directory."""
    svc = app[SERVICES]
    app[takeout.TAKEOUT] = Takeout(svc, svc.config.data_dir / "takeout")
    yield


async def _last_write(what: str, write: Awaitable[object]) -> None:
    try:
        await write
    except (SQLAlchemyError, OSError) as exc:
        server_logger.warning("could not %s at shutdown (%s)", what, type(exc).__name__)


async def compact_tombstones(svc: Services) -> Compacted:
    """Purge tombstones older than ``config.tombstone_age`` (see storage/compaction.py)."""
    cutoff = svc.clock.now() - svc.config.tombstone_age
    done = await compact(svc.engine, cutoff, svc.clock.now)
    if done.purged:
        server_logger.info("purged %d tombstones of %d accounts", done.purged, done.accounts)
    return done


async def _check_continuity(svc: Services) -> None:
    if await renew_mark(svc.engine, svc.config.data_dir, svc.clock.now()):
        server_logger.warning(
            "the database is not the one this server last wrote to (restored from a "
            "backup?): browsers refetch their conversations"
        )
        svc.feed.clear()
        svc.fanout.drop_everyone()


async def metrics(request: web.Request) -> web.Response:
    """Prometheus metrics (``server/metrics.py``), to whoever may read them."""
    svc = request.app[SERVICES]
    refused = refusal(request, svc.config.metrics_token)
    if refused is not None:
        return refused
    await request.app[OUTBOX_COUNT].refresh(svc)
    return exposition(request.app[METRICS_REGISTRY], request.headers.get("Accept", ""))


async def index(request: web.Request) -> web.FileResponse:
    resp = web.FileResponse(STATIC_DIR / "index.html")
    resp.headers["Cache-Control"] = "no-cache"
    return resp
