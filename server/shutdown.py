"""A node's graceful stop (SIGTERM), within ``FERRY_SHUTDOWN_TIMEOUT`` seconds::

    stop ─▶ /readyz says "stopping"; the listening sockets close (aiohttp's runner)
         ─▶ every bridge: its ingester stops taking uploads, stores and acknowledges
            what it took ─▶ its socket closes with 1012 (service restart)
         ─▶ every browser socket closes with 1012
         ─▶ requests in flight finish (aiohttp waits, then cancels them)
         ─▶ background work ends, the node's mark is renewed, the database closes

1012 tells a bridge the server restarts: it reconnects within a second or two, to this
node once it is back or to another behind the same proxy, and sends again whatever was
not acknowledged. Pages reconnect on any close but a session's end and resume from their
cursors. Nothing acknowledged is lost and nothing unacknowledged is forgotten, so a stop
cut short by the bound (``ferry serve`` then exits with status 1) costs time, not data.

The bound is shared out: ``DRAIN_SHARE`` of it for the sockets, ``REQUESTS_SHARE`` for
requests in flight (aiohttp may take it twice: a wait, then a cancellation),
``BACKGROUND_SHARE`` for background tasks; what is left covers closing the database.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import WSCloseCode, web

from server.api.common import SERVICES
from server.health import READINESS
from server.log import server_logger

DRAIN_SHARE = 0.5
REQUESTS_SHARE = 0.15
BACKGROUND_SHARE = 0.1


async def stop(runner: web.AppRunner) -> None:
    """Stop serving ``runner``'s app gracefully (module docstring).

    The sockets are closed before aiohttp's own shutdown begins: from then on it ignores
    what connections send, the peers' answers to the close included, so a close would
    wait out its timeout, and an upload's Ack would still go out but nothing else come in.
    """
    for site in list(runner.sites):
        await site.stop()  # no new connections
    await close_sockets(runner.app)
    await runner.cleanup()


async def close_sockets(app: web.Application) -> None:
    """Finish the bridges' commits, then close every socket with 1012. Also an
    ``on_shutdown`` hook, for runners stopped without :func:`stop` (a second call finds
    nothing left to do)."""
    app[READINESS].stopping = True
    svc = app[SERVICES]
    budget = svc.config.shutdown_timeout * DRAIN_SHARE
    loop = asyncio.get_running_loop()
    deadline = loop.time() + budget
    finishing = [asyncio.ensure_future(c.finish()) for c in svc.registry.all() if c.finish]
    if finishing:
        _, late = await asyncio.wait(finishing, timeout=budget / 2)
        await _cancel(late)
        if late:
            server_logger.warning(
                "%d bridge(s) still storing uploads at shutdown; they send them again",
                len(late),
            )
    sockets = [ws for ws in list(svc.sockets) if not ws.closed]
    if not sockets:
        return
    # Concurrently: each close waits for the peer's answer, which a dead peer never sends.
    closing = [
        asyncio.ensure_future(ws.close(code=WSCloseCode.SERVICE_RESTART, message=b"restart"))
        for ws in sockets
    ]
    _, late = await asyncio.wait(closing, timeout=max(0.1, deadline - loop.time()))
    await _cancel(late)
    server_logger.info(
        "told %d socket(s) to reconnect (%d bridge(s))", len(sockets), len(finishing)
    )


async def _cancel(tasks: set[asyncio.Future[Any]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
