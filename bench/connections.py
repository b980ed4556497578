"""Idle browser connections: the reconnect storm and the memory each one holds.

One wave of N (5,000) tabs serves both figures, on Ferry and on the bare baseline:

* storm: the seconds for N tabs to connect, authenticate and resume (Ferry: cookie
  checked, ``subscribe`` from the current cursor answered up to the ``device`` frame;
  baseline: websocket accepted and one frame echoed), at most 256 opening at a time;
* memory: the server's RSS (``/proc/<pid>/status`` VmRSS) with the N tabs open and idle,
  minus its RSS before the wave, divided by N. A few warm-up tabs stay open throughout so
  that first-use allocations (imports, caches, pools) fall before the "before" reading.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp

from bench.browsers import BrowserPool
from bench.procs import ServerProcess
from bench.report import Figure, at_most
from bench.target import Context, running_baseline, running_ferry

TARGET_MEMORY = 2.0
TARGET_STORM = 2.0
_WARM = 100
_SETTLE = 1.0


@dataclass(frozen=True)
class Wave:
    seconds: float
    rss_per_connection: float
    rss_before: int
    rss_after: int


async def _wave(
    server: ServerProcess, new_pool: Callable[[], Awaitable[BrowserPool]], ctx: Context
) -> Wave:
    n, gate = ctx.sizes.idle_connections, ctx.sizes.connect_concurrency
    warm, pool = await new_pool(), await new_pool()
    try:
        await warm.open(_WARM, gate)
        await asyncio.sleep(_SETTLE)
        before = server.rss()
        seconds = await pool.open(n, gate)
        if pool.failures:
            raise RuntimeError(f"{pool.failures} of {n} connections failed: {pool.first_error}")
        await asyncio.sleep(_SETTLE)
        after = server.rss()
    finally:
        await pool.close()
        await warm.close()
    return Wave(seconds, (after - before) / n, before, after)


async def run(ctx: Context, want: set[str]) -> list[Figure]:
    async with (
        aiohttp.ClientSession() as http,
        running_ferry(ctx, "connections", http, history=ctx.sizes.history) as ferry,
    ):

        async def ferry_pool() -> BrowserPool:
            return await ferry.browsers(http)

        mine = await _wave(ferry.server, ferry_pool, ctx)

    async with running_baseline(ctx, "baseline-connections") as base:

        async def base_pool() -> BrowserPool:
            return base.browsers()

        bare = await _wave(base.server, base_pool, ctx)

    n = ctx.sizes.idle_connections
    figures = []
    if "memory" in want:
        figures.append(
            at_most(
                "memory",
                "bytes/conn",
                mine.rss_per_connection,
                bare.rss_per_connection,
                TARGET_MEMORY,
                connections=n,
                ferry_rss_before=mine.rss_before,
                ferry_rss_after=mine.rss_after,
                baseline_rss_before=bare.rss_before,
                baseline_rss_after=bare.rss_after,
            )
        )
    if "storm" in want:
        figures.append(
            at_most(
                "storm",
                "seconds",
                mine.seconds,
                bare.seconds,
                TARGET_STORM,
                connections=n,
                concurrency=ctx.sizes.connect_concurrency,
                ferry_connections_per_s=n / mine.seconds,
                baseline_connections_per_s=n / bare.seconds,
            )
        )
    return figures
