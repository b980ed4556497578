"""A device-link client for tests: a raw aiohttp websocket plus a real LinkInitiator.

Tests use it to speak the encrypted link exactly like a bridge, and to misbehave: send
crafted, tampered, replayed or reordered frames (``ws`` and ``noise`` are exposed).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import msgspec
from aiohttp.test_utils import TestClient

from protocol.codec import Codec
from protocol.link import LinkInitiator
from protocol.messages import DeviceHello, Ping, Pong, ServerToDevice, Welcome

codec: Codec[ServerToDevice] = Codec(ServerToDevice)


class Refused(Exception):
    """The server closed the socket instead of finishing the handshake."""

    def __init__(self, code: int | None) -> None:
        super().__init__(f"closed with {code}")
        self.code = code


@dataclass
class DeviceClient:
    ws: aiohttp.ClientWebSocketResponse
    noise: LinkInitiator
    welcome: Welcome
    sent: list[bytes] = field(default_factory=list)

    async def send(self, message: msgspec.Struct) -> bytes:
        """Encrypt and send one message; returns the frame (for replay tests)."""
        frame = self.noise.encrypt(Codec.encode(message))
        self.sent.append(frame)
        await self.ws.send_bytes(frame)
        return frame

    async def recv(self, timeout: float = 5) -> Any:
        """The next server message, skipping Pongs."""
        while True:
            msg = await asyncio.wait_for(self.ws.receive(), timeout)
            assert msg.type == aiohttp.WSMsgType.BINARY, msg
            message = codec.decode(self.noise.decrypt(msg.data))
            if not isinstance(message, Pong):
                return message

    async def closed(self, timeout: float = 5) -> int | None:
        """Wait for the server to close; its close code."""
        while True:
            msg = await asyncio.wait_for(self.ws.receive(), timeout)
            if msg.type == aiohttp.WSMsgType.CLOSE:
                return int(msg.data)
            if msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                return self.ws.close_code

    async def close(self) -> None:
        await self.ws.close()


async def start(
    client: TestClient | aiohttp.ClientSession,
    url: str,
    private: bytes,
    server_public: bytes,
    hello: DeviceHello | None = None,
) -> tuple[aiohttp.ClientWebSocketResponse, LinkInitiator, bytes]:
    """Open the socket and send message 1; returns (ws, session, message 1)."""
    ws = await client.ws_connect(url)
    noise = LinkInitiator(private, server_public)
    first = noise.start(Codec.encode(hello or DeviceHello(versions=[1])))
    await ws.send_bytes(first)
    return ws, noise, first


async def connect(
    client: TestClient | aiohttp.ClientSession,
    private: bytes,
    server_public: bytes,
    *,
    url: str = "/api/v1/device",
    hello: DeviceHello | None = None,
) -> DeviceClient:
    """Handshake, then the confirming first frame (Ping), like a bridge.

    Raises:
        Refused: the server closed the socket instead of answering.
    """
    ws, noise, _ = await start(client, url, private, server_public, hello)
    msg = await asyncio.wait_for(ws.receive(), 5)
    if msg.type == aiohttp.WSMsgType.CLOSE:
        raise Refused(int(msg.data))
    if msg.type != aiohttp.WSMsgType.BINARY:
        raise Refused(ws.close_code)
    welcome = Codec(Welcome).decode(noise.receive_handshake(msg.data))
    dev = DeviceClient(ws, noise, welcome)
    await dev.send(Ping())
    return dev


async def new_pairing_code(svc: Any, account_id: int, server_url: str) -> Any:
    """Create a pairing code the way the REST handler does; returns the PairingOffer."""
    from server.auth.pairing import make_offer, new_code
    from server.storage.pairing import CodeCreated

    code = new_code()
    result = await svc.pairing.create(
        account_id,
        code,
        svc.clock.now(),
        ttl=svc.config.pairing_code_ttl,
        per_hour=svc.config.pairing_codes_per_hour,
        max_devices=svc.config.max_devices,
    )
    assert isinstance(result, CodeCreated), result
    return make_offer(code, server_url, svc.server_public, svc.tls_pin, result.expires_at)
