"""The synthetic bridge: the one module of the benchmark that speaks the device link.

Everything specific to how a bridge proves itself and frames its messages lives here,
behind a small interface the benchmarks use::

    creds = await register_device(engine, account_id, now)    # before the server starts
    bridge = SyntheticBridge(base_url, creds, http)
    await bridge.connect()                                    # hello ─▶ Welcome
    ack = await bridge.upload(items)                          # Upload ─▶ Ack (committed)
    fut = await bridge.send_upload(items)                     # pipelined: sent, Ack later
    await bridge.close()

The link is the product's: a Noise IK handshake (``protocol.link.LinkInitiator``) whose
first message carries the hello and whose answer carries the ``Welcome``, then every frame
encrypted, and a first encrypted frame (Ping) that makes the connection live.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import aiohttp
import msgspec
from sqlalchemy.ext.asyncio import AsyncEngine

from protocol.codec import Codec
from protocol.errors import ProtocolError
from protocol.link import LinkInitiator, generate_keypair
from protocol.messages import (
    SUPPORTED_VERSIONS,
    Ack,
    DeviceHello,
    Error,
    InboundSms,
    Ping,
    ServerToDevice,
    Upload,
    Welcome,
)
from server.storage.devices import DeviceStore

#: Largest frame either way (the server's default device limit).
MAX_FRAME = 1 << 20


class LinkFailed(Exception):
    """The server refused the bridge, or the link closed with uploads unacknowledged."""


@dataclass(frozen=True)
class BridgeCredentials:
    """What a paired bridge holds: its static key pair and the server's public key."""

    device_id: int
    private: bytes
    server_public: bytes


async def register_device(
    engine: AsyncEngine, account_id: int, now: datetime, server_public: bytes
) -> BridgeCredentials:
    """Pair a bridge with the account, straight through the server's device store."""
    private, public = generate_keypair()
    device_id = await DeviceStore(engine).create(account_id, "bench bridge", public, now)
    return BridgeCredentials(device_id, private, server_public)


class SyntheticBridge:
    """A bridge that uploads what it is given and resolves each upload at its ``Ack``."""

    def __init__(self, base_url: str, creds: BridgeCredentials, http: aiohttp.ClientSession):
        self._url = base_url.replace("http://", "ws://", 1) + "/api/v1/device"
        self._creds = creds
        self._http = http
        self._codec: Codec[ServerToDevice] = Codec(ServerToDevice, max_size=MAX_FRAME)
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        # (upto, future) in send order: the server acknowledges uploads in order.
        self._pending: deque[tuple[int, asyncio.Future[Ack]]] = deque()
        self.welcome: Welcome | None = None
        #: ``upto`` of every Ack received, in order: the server sends one per group
        #: commit, so successive differences are the sizes of its groups.
        self.acked: list[int] = []
        self._noise: LinkInitiator

    async def connect(self) -> Welcome:
        """Open the link and authenticate; returns the server's ``Welcome``.

        Raises:
            LinkFailed: the server refused the credential or did not welcome us.
        """
        ws = await self._http.ws_connect(self._url, compress=0, max_msg_size=MAX_FRAME + 64)
        self._ws = ws
        self._noise = LinkInitiator(self._creds.private, self._creds.server_public)
        hello = DeviceHello(versions=list(SUPPORTED_VERSIONS), bridge_version="ferry-bench")
        await ws.send_bytes(self._noise.start(Codec.encode(hello)))
        try:
            reply = self._noise.receive_handshake(await self._frame(ws))
        except ProtocolError as exc:
            await ws.close()
            raise LinkFailed(f"handshake failed: {exc}") from None
        first = Codec(Welcome).decode(reply)
        self.welcome = first
        await ws.send_bytes(self._encode(Ping()))  # the confirming first frame
        self._reader = asyncio.create_task(self._read(ws), name="bench-bridge-reader")
        return first

    async def send_upload(self, items: Sequence[InboundSms]) -> asyncio.Future[Ack]:
        """Send one ``Upload``; the returned future resolves at its ``Ack``."""
        if self._ws is None:
            raise LinkFailed("not connected")
        fut: asyncio.Future[Ack] = asyncio.get_running_loop().create_future()
        self._pending.append((max(i.n for i in items), fut))
        await self._ws.send_bytes(self._encode(Upload(items=list(items))))
        return fut

    async def upload(self, items: Sequence[InboundSms]) -> Ack:
        """Upload one batch and wait until the server has committed it."""
        return await (await self.send_upload(items))

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._ws is not None:
            await self._ws.close()
        self._fail_pending("closed")

    # ------------------------------------------------------------------ framing

    @staticmethod
    async def _frame(ws: aiohttp.ClientWebSocketResponse) -> bytes:
        msg = await ws.receive()
        if msg.type == aiohttp.WSMsgType.BINARY:
            return bytes(msg.data)
        if msg.type == aiohttp.WSMsgType.TEXT:
            return str(msg.data).encode()
        raise LinkFailed(f"link closed ({ws.close_code})")

    def _encode(self, message: msgspec.Struct) -> bytes:
        return self._noise.encrypt(Codec.encode(message))

    def _decode(self, frame: bytes) -> ServerToDevice:
        return self._codec.decode(self._noise.decrypt(frame))

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        try:
            while True:
                message = self._decode(await self._frame(ws))
                if isinstance(message, Ack):
                    self._resolve(message)
                elif isinstance(message, Error):
                    raise LinkFailed(message.code)
                # Anything else (SendSms, Pong, ...) is of no interest to the benchmark.
        except LinkFailed as exc:
            self._fail_pending(str(exc))

    def _resolve(self, ack: Ack) -> None:
        self.acked.append(ack.upto)
        while self._pending and self._pending[0][0] <= ack.upto:
            _, fut = self._pending.popleft()
            if not fut.done():
                fut.set_result(ack)

    def _fail_pending(self, why: str) -> None:
        while self._pending:
            _, fut = self._pending.popleft()
            if not fut.done():
                fut.set_exception(LinkFailed(why))
