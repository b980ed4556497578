"""Pools of synthetic browser websockets, opened with bounded concurrency.

A browser here is one websocket that sends one opening frame (Ferry: ``subscribe`` from
its cursor; baseline: the same text, echoed) and counts as ready at the first frame that
starts with ``ready_prefix`` (Ferry: ``device``, which the server sends once catch-up is
done). After that every text frame goes to ``sink`` with its arrival time, and pings are
answered, so one process can time thousands of sockets.

The client is a small websocket protocol of its own (RFC 6455: the upgrade request, masked
frames out, unmasked frames in, in ``data_received``) rather than aiohttp's client, whose
reader task per socket cost ~25 µs a frame here: with a thousand sockets the client, not
the server under test, set the pace of a fan-out round.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import time
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

#: ``sink(arrival_perf_counter, text)`` for every frame after the socket is ready.
Sink = Callable[[float, str], None]

#: Prefix of Ferry's ``changes`` frame (msgspec writes the tag field first).
CHANGES = '{"t":"changes"'
#: Prefix of Ferry's ``device`` frame, the last frame of a (re)subscription.
DEVICES = '{"t":"device"'

_TEXT, _CLOSE, _PING, _PONG = 0x1, 0x8, 0x9, 0xA
#: Largest frame a synthetic browser accepts.
_MAX_FRAME = 16 << 20
_MAX_HEADER = 16 << 10


class WebSocketFailed(Exception):
    """The upgrade was refused, or the socket closed before it was ready."""


def _client_frame(opcode: int, payload: bytes) -> bytes:
    """A masked frame, as a client must send (RFC 6455 §5.3)."""
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return header + mask + masked


class _Socket(asyncio.Protocol):
    def __init__(self, pool: BrowserPool, request: bytes) -> None:
        self._pool = pool
        self._request = request
        self._buffer = bytearray()
        self._upgraded = False
        self.transport: asyncio.Transport | None = None
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self._request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_exception(WebSocketFailed(f"closed before ready ({exc})"))

    def data_received(self, data: bytes) -> None:
        arrived = time.perf_counter()
        self._buffer += data
        if not self._upgraded and not self._upgrade():
            return
        buf = self._buffer
        while len(buf) >= 2:
            opcode, length, start = buf[0] & 0x0F, buf[1] & 0x7F, 2
            if length == 126:
                if len(buf) < 4:
                    return
                (length,), start = struct.unpack_from("!H", buf, 2), 4
            elif length == 127:
                if len(buf) < 10:
                    return
                (length,), start = struct.unpack_from("!Q", buf, 2), 10
            if length > _MAX_FRAME or not buf[0] & 0x80 or buf[1] & 0x80:
                self._fail("oversized, fragmented or masked frame from the server")
                return
            if len(buf) < start + length:
                return
            payload = bytes(buf[start : start + length])
            del buf[: start + length]
            self._frame(opcode, payload, arrived)

    def _upgrade(self) -> bool:
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > _MAX_HEADER:
                self._fail("upgrade response too long")
            return False
        status = bytes(self._buffer[: self._buffer.find(b"\r\n")])
        if b" 101 " not in status:
            self._fail(status.decode(errors="replace"))
            return False
        del self._buffer[: end + 4]
        self._upgraded = True
        self.send_text(self._pool._hello)
        return True

    def _frame(self, opcode: int, payload: bytes, arrived: float) -> None:
        if opcode == _TEXT:
            text = payload.decode()
            if not self.ready.done():
                if text.startswith(self._pool._ready):
                    self.ready.set_result(None)
            elif self._pool.sink is not None:
                self._pool.sink(arrived, text)
        elif opcode == _PING:
            self._write(_client_frame(_PONG, payload))
        elif opcode == _CLOSE:
            self._fail(f"closed by the server ({payload[:2].hex()})")

    def send_text(self, text: str) -> None:
        self._write(_client_frame(_TEXT, text.encode()))

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _fail(self, why: str) -> None:
        if not self.ready.done():
            self.ready.set_exception(WebSocketFailed(why))
        self.close()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.abort()


class BrowserPool:
    """Many websockets to one URL."""

    def __init__(
        self,
        ws_url: str,
        *,
        hello: str,
        ready_prefix: str,
        headers: Mapping[str, str] | None = None,
        ready_timeout: float = 120.0,
    ) -> None:
        url = urlsplit(ws_url)
        self._host, self._port = url.hostname or "127.0.0.1", url.port or 80
        self._path = url.path or "/"
        self._hello = hello
        self._ready = ready_prefix
        self._headers = dict(headers or {})
        self._timeout = ready_timeout
        self.sockets: list[_Socket] = []
        self.sink: Sink | None = None
        self.failures = 0
        self.first_error = ""

    async def open(self, count: int, concurrency: int = 256) -> float:
        """Open ``count`` more sockets, at most ``concurrency`` at a time; seconds taken."""
        gate = asyncio.Semaphore(concurrency)
        start = time.perf_counter()
        await asyncio.gather(*(self._open_one(gate) for _ in range(count)))
        return time.perf_counter() - start

    async def _open_one(self, gate: asyncio.Semaphore) -> None:
        async with gate:
            sock = _Socket(self, self._upgrade_request())
            try:
                await asyncio.get_running_loop().create_connection(
                    lambda: sock, self._host, self._port
                )
                await asyncio.wait_for(asyncio.shield(sock.ready), self._timeout)
            except (WebSocketFailed, OSError, TimeoutError) as exc:
                sock.close()
                self.failures += 1
                self.first_error = self.first_error or f"{type(exc).__name__}: {exc}"[:200]
                return
        self.sockets.append(sock)

    def _upgrade_request(self) -> bytes:
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {self._path} HTTP/1.1",
            f"Host: {self._host}:{self._port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
            *(f"{name}: {value}" for name, value in self._headers.items()),
        ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    async def close(self) -> None:
        """Drop every socket at once."""
        for sock in self.sockets:
            sock.close()
        self.sockets.clear()
        await asyncio.sleep(0)


class Countdown:
    """A sink that resolves once ``count`` frames starting with ``prefix`` have arrived."""

    def __init__(self, count: int, prefix: str = CHANGES) -> None:
        self.left = count
        self.prefix = prefix
        self.first = 0.0
        self.last = 0.0
        self.frame_bytes = 0
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def __call__(self, arrived: float, text: str) -> None:
        if not text.startswith(self.prefix) or self.done.done():
            return
        if not self.first:
            self.first = arrived
            self.frame_bytes = len(text.encode())
        self.last = arrived
        self.left -= 1
        if self.left <= 0:
            self.done.set_result(None)
