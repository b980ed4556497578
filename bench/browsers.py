"""Pools of synthetic browser websockets, opened with bounded concurrency.

A browser here is one websocket that sends one opening frame (Ferry: ``subscribe`` from
its cursor; baseline: the same text, echoed) and counts as ready at the first frame that
starts with ``ready_prefix`` (Ferry: ``device``, which the server sends once catch-up is
done). After that a reader per socket answers pings and hands every text frame to
``sink`` with its arrival time, so one process can time thousands of sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping

import aiohttp

#: ``sink(arrival_perf_counter, text)`` for every frame after the socket is ready.
Sink = Callable[[float, str], None]

#: Prefix of Ferry's ``changes`` frame (msgspec writes the tag field first).
CHANGES = '{"t":"changes"'
#: Prefix of Ferry's ``device`` frame, the last frame of a (re)subscription.
DEVICES = '{"t":"device"'


class BrowserPool:
    """Many websockets to one URL, in one client session of their own."""

    def __init__(
        self,
        ws_url: str,
        *,
        hello: str,
        ready_prefix: str,
        headers: Mapping[str, str] | None = None,
        ready_timeout: float = 120.0,
    ) -> None:
        self._url = ws_url
        self._hello = hello
        self._ready = ready_prefix
        self._headers = dict(headers or {})
        self._timeout = ready_timeout
        # No connection limit: the pool may hold thousands of sockets.
        self._http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        self.sockets: list[aiohttp.ClientWebSocketResponse] = []
        self._readers: list[asyncio.Task[None]] = []
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
            try:
                ws = await self._connect()
            except (aiohttp.ClientError, OSError, TimeoutError, RuntimeError) as exc:
                self.failures += 1
                self.first_error = self.first_error or f"{type(exc).__name__}: {exc}"[:200]
                return
        self.sockets.append(ws)
        self._readers.append(asyncio.create_task(self._read(ws)))

    async def _connect(self) -> aiohttp.ClientWebSocketResponse:
        ws = await self._http.ws_connect(self._url, headers=self._headers, compress=0)
        try:
            await ws.send_str(self._hello)
            while True:
                msg = await ws.receive(timeout=self._timeout)
                if msg.type != aiohttp.WSMsgType.TEXT:
                    raise RuntimeError(f"closed before ready ({ws.close_code})")
                if msg.data.startswith(self._ready):
                    return ws
        except BaseException:
            await ws.close()
            raise

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        # Iterating answers the server's pings, so idle sockets stay alive.
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT and self.sink is not None:
                self.sink(time.perf_counter(), msg.data)

    async def close(self) -> None:
        """Drop every socket at once (closing the session closes their transports)."""
        for task in self._readers:
            task.cancel()
        for task in self._readers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._http.close()
        self.sockets.clear()
        self._readers.clear()


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
