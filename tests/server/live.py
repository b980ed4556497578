"""The real app on a free loopback port, served from a thread with its own event loop, for
blocking clients (schemathesis drives ``requests``). Connections pass the same
:class:`~server.net.ConnectionGuard` as in ``ferry serve``."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiohttp import web

from server.api.common import SERVICES
from server.app import create_app
from server.config import Config
from server.net import RUNNER_ARGS, ConnectionGuard, GuardedSite
from server.services import Services

T = TypeVar("T")

_WAIT = 60.0  # generous: the machine is shared


class LiveServer:
    """``with LiveServer(config) as live:`` serves until the block ends."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.port = 0
        self._ready = threading.Event()
        self._failed: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._svc: Services | None = None
        self._thread = threading.Thread(target=self._main, name="live-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def svc(self) -> Services:
        assert self._svc is not None
        return self._svc

    def run(self, work: Callable[[Services], Awaitable[T]]) -> T:
        """Run ``work(services)`` on the server's loop; its result."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(work(self.svc), self._loop).result(_WAIT)

    def __enter__(self) -> LiveServer:
        self._thread.start()
        if not self._ready.wait(_WAIT):
            raise TimeoutError("the live server did not start")
        if self._failed is not None:
            raise self._failed
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(_WAIT)

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to the starting thread
            self._failed = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        app = create_app(self.config)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, **RUNNER_ARGS)
        await runner.setup()
        try:
            site = GuardedSite(runner, "127.0.0.1", 0, ConnectionGuard.from_config(self.config))
            await site.start()
            self.port = site.port
            self._svc = app[SERVICES]
            self._ready.set()
            await self._stop.wait()
        finally:
            await runner.cleanup()
