"""The bridge's websocket link to the server: connect, hello, reconnect with backoff.

The link only moves frames. It hands every decoded server message to ``on_message`` and
calls ``on_connect`` after each successful ``Welcome`` (the bridge then resends what the
server has not acknowledged). Frames are checked against a size limit both ways.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import msgspec
import websockets
from websockets.asyncio.client import ClientConnection, connect

from device_bridge.backoff import Backoff
from device_bridge.credentials import Credentials
from device_bridge.errors import InsecureUrl, LinkError, Unauthorized
from protocol.codec import Codec
from protocol.errors import ProtocolError
from protocol.messages import SUPPORTED_VERSIONS, DeviceHello, Error, ServerToDevice, Welcome

log = logging.getLogger("ferry.bridge.link")

MAX_FRAME = 1 << 20


def check_url(url: str, *, allow_insecure: bool = False) -> None:
    """Refuse plain ws:// to anything but loopback unless explicitly allowed."""
    parts = urlsplit(url)
    if parts.scheme == "wss":
        return
    if parts.scheme != "ws":
        raise InsecureUrl(f"unsupported scheme {parts.scheme!r}")
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback and not allow_insecure:
        raise InsecureUrl(f"refusing unencrypted ws:// to {host}; use wss://")


def device_url(server_url: str) -> str:
    parts = urlsplit(server_url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    return f"{scheme}://{parts.netloc}/api/v1/device"


class Link:
    def __init__(
        self,
        credentials: Credentials,
        on_message: Callable[[ServerToDevice], Awaitable[None]],
        on_connect: Callable[[Welcome], Awaitable[None]],
        *,
        backoff: Backoff | None = None,
        allow_insecure: bool = False,
        bridge_version: str = "",
    ) -> None:
        self.url = device_url(credentials.server_url)
        check_url(self.url, allow_insecure=allow_insecure)
        self._creds = credentials
        self._on_message = on_message
        self._on_connect = on_connect
        self._backoff = backoff or Backoff()
        self._codec: Codec[ServerToDevice] = Codec(ServerToDevice, max_size=MAX_FRAME)
        self._ws: ClientConnection | None = None
        self._version = bridge_version
        self.connected = asyncio.Event()

    async def send(self, message: msgspec.Struct) -> bool:
        """Send if connected; False otherwise (the caller keeps the data journaled)."""
        ws = self._ws
        if ws is None:
            return False
        try:
            await ws.send(Codec.encode(message))
            return True
        except websockets.ConnectionClosed:
            return False

    async def run(self) -> None:
        """Stay connected until cancelled."""
        while True:
            try:
                await self._session()
            except Unauthorized as exc:
                log.error("server refused this device: %s", exc)
                await asyncio.sleep(max(60.0, self._backoff.next_delay()))
                continue
            except (OSError, websockets.WebSocketException, LinkError, ProtocolError) as exc:
                log.warning("link down: %s", _describe(exc))
            delay = self._backoff.next_delay()
            log.info("reconnecting in %.1fs", delay)
            await asyncio.sleep(delay)

    async def _session(self) -> None:
        async with connect(
            self.url, max_size=MAX_FRAME, compression=None, open_timeout=10, ping_interval=20
        ) as ws:
            await ws.send(
                Codec.encode(
                    DeviceHello(
                        device_id=self._creds.device_id,
                        secret=self._creds.secret,
                        versions=list(SUPPORTED_VERSIONS),
                        bridge_version=self._version,
                    )
                )
            )
            first = self._codec.decode(await asyncio.wait_for(ws.recv(), 15))
            if isinstance(first, Error):
                raise (
                    Unauthorized(first.code)
                    if first.code == "unauthorized"
                    else LinkError(first.code)
                )
            if not isinstance(first, Welcome):
                raise LinkError("server did not welcome us")
            self._ws = ws
            self.connected.set()
            self._backoff.reset()
            log.info("connected to %s as device %d", self.url, first.device_id)
            try:
                await self._on_connect(first)
                async for frame in ws:
                    await self._on_message(self._codec.decode(frame))
            finally:
                self._ws = None
                self.connected.clear()


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:200]
