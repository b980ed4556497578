"""The HTTP endpoint on the bridge's computer that SMS Gateway for Android posts to.

One route, ``POST /ferry-webhook``; every request is checked before it is believed:

* the body is at most :data:`MAX_BODY` bytes (an MMS with its pictures fits) and JSON
  no deeper than the app's payloads;
* with a signing key: ``X-Signature`` must be the hex HMAC-SHA256 of the body followed
  by ``X-Timestamp``, compared in constant time, and the timestamp within
  :data:`MAX_SKEW` of now (a replayed old request is refused);
* a received message is answered 2xx only once the bridge journaled it (the driver
  waits for that); if it takes longer than ``hold`` the answer is 503 and the app
  retries later. Retries are harmless: the journal takes each key once.

Nothing of a message reaches the log.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from hashlib import sha256
from typing import Any

from aiohttp import web

from .base import Received

__all__ = ["MAX_BODY", "WebhookReceiver"]

logger = logging.getLogger("ferry.bridge.webhooks")

MAX_BODY = 4 * 1024 * 1024
MAX_SKEW = 300
PATH = "/ferry-webhook"
_MAX_DEPTH = 6

Handler = Callable[[str, dict[str, Any]], Awaitable[bool]]


class WebhookReceiver:
    """Args:
    host, port: Where to listen (port 0: any free port).
    public_url: The URL the phone posts to, if not ``http://host:port``.
    signing_key: The app's webhook signing key; None accepts unsigned requests.
    hold: Seconds a request waits for its message to be journaled.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        public_url: str | None = None,
        signing_key: str | None = None,
        hold: float = 20.0,
    ) -> None:
        self._host, self._port = host, port
        self._public = public_url
        self._key = signing_key.encode() if signing_key else None
        self._hold = hold
        self.on_event: Handler | None = None
        self._runner: web.AppRunner | None = None
        self._waiting: list[tuple[Received, asyncio.Future[bool]]] = []
        self._handed: list[asyncio.Future[bool]] = []

    @property
    def url(self) -> str:
        return self._public or f"http://{self._host}:{self._port}{PATH}"

    async def start(self) -> None:
        if self._runner is not None:
            return
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_post(PATH, self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        if self._port == 0:
            self._port = self._runner.addresses[0][1]
        logger.info("listening for the phone's webhooks on %s:%d", self._host, self._port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def pending(self, limit: int) -> list[Received]:
        """Received messages for the bridge to journal. Those handed out by the previous
        call are journaled by now (the bridge journals a batch before it polls again):
        their requests are answered."""
        for future in self._handed:
            if not future.done():
                future.set_result(True)
        batch, self._waiting = self._waiting[:limit], self._waiting[limit:]
        self._handed = [f for _, f in batch]
        return [r for r, _ in batch]

    async def until_journaled(self, received: Received) -> bool:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((received, future))
        try:
            async with asyncio.timeout(self._hold):
                return await asyncio.shield(future)
        except TimeoutError:
            return False

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self._key is not None and not self._signed(request, body):
            logger.warning("refused a webhook with a bad or missing signature")
            return web.json_response({"error": "bad signature"}, status=401)
        try:
            message = json.loads(body)
        except (ValueError, RecursionError):
            return web.json_response({"error": "not JSON"}, status=400)
        if not isinstance(message, dict) or _depth(message) > _MAX_DEPTH:
            return web.json_response({"error": "not a webhook"}, status=400)
        event, payload = message.get("event"), message.get("payload")
        if not isinstance(event, str) or not isinstance(payload, dict):
            return web.json_response({"error": "not a webhook"}, status=400)
        handler = self.on_event
        if handler is None or not await handler(event, payload):
            return web.json_response({"error": "busy, try again"}, status=503)
        return web.json_response({"ok": True})

    def _signed(self, request: web.Request, body: bytes) -> bool:
        assert self._key is not None
        signature = request.headers.get("X-Signature", "")
        stamp = request.headers.get("X-Timestamp", "")
        if not stamp.isdigit() or abs(time.time() - int(stamp)) > MAX_SKEW:
            return False
        expected = hmac.new(self._key, body + stamp.encode(), sha256).hexdigest()
        return hmac.compare_digest(expected, signature.lower())


def _depth(value: object, level: int = 0) -> int:
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level
