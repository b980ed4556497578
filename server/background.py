"""Background work of the server: tasks that are referenced until done and whose crashes
are logged, and periodic jobs started and stopped with the app (``cleanup_ctx``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

from aiohttp import web

from server.log import server_logger


class Background:
    """Fire-and-forget tasks that are neither garbage-collected mid-flight nor silent."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            server_logger.error(
                "background task %s crashed", task.get_name(), exc_info=task.exception()
            )

    async def drain(self) -> None:
        """Wait for the tasks running now (tests; shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self, grace: float = 5.0) -> None:
        """Let the running tasks finish for up to ``grace`` seconds, then cancel the rest
        (a task cut off in a database call would otherwise outlive the loop's thread)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=grace)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)


async def _repeat(name: str, interval: float, job: Callable[[], Awaitable[object]]) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await job()
        except Exception:
            server_logger.exception("periodic job %s failed; it runs again later", name)


def periodic(
    name: str,
    interval: Callable[[web.Application], float],
    job: Callable[[web.Application], Awaitable[object]],
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A ``cleanup_ctx`` entry running ``job(app)`` every ``interval(app)`` seconds."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.get_running_loop().create_task(
            _repeat(name, interval(app), lambda: job(app)), name=name
        )
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return ctx
