"""Fan-out of one message to 1,000 browser sockets of one account, deliveries/s.

Ferry: 1,000 subscribed tabs; the bridge uploads one message; the round ends when every
tab has its ``changes`` frame (deliveries/s = sockets / seconds from upload to the last
delivery). Baseline: the bare server broadcasting one frame of the same size to 1,000
sockets as Ferry does (built once, header included, and written straight to each
transport), timed from the trigger to the last delivery. Rounds of the two sides
alternate; the medians are compared.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

import aiohttp

from bench import sms
from bench.browsers import BrowserPool, Countdown
from bench.report import Figure, at_least
from bench.target import Context, running_baseline, running_ferry

TARGET = 0.9
_PAUSE = 0.3  # between rounds, so each starts from idle sockets
_TIMEOUT = 60.0


async def _round(
    pool: BrowserPool, fire: Callable[[], Awaitable[float]]
) -> tuple[float, float, int]:
    """One broadcast: (trigger→last delivery, trigger→first delivery) seconds, frame size."""
    await asyncio.sleep(_PAUSE)
    countdown = Countdown(len(pool.sockets))
    pool.sink = countdown
    try:
        started = await fire()
        await asyncio.wait_for(countdown.done, _TIMEOUT)
    finally:
        pool.sink = None
    return countdown.last - started, countdown.first - started, countdown.frame_bytes


async def run(ctx: Context) -> list[Figure]:
    size = ctx.sizes
    n = size.fanout_sockets
    async with (
        aiohttp.ClientSession() as http,
        running_ferry(ctx, "fanout", http, history=size.history) as ferry,
        running_baseline(ctx, "baseline-fanout") as base,
    ):
        ferry_pool = await ferry.browsers(http)
        base_pool = base.browsers()
        control = await http.ws_connect(base.ws_url, compress=0)
        try:
            await ferry_pool.open(n, size.connect_concurrency)
            _check(ferry_pool, n, "ferry")
            await base_pool.open(n, size.connect_concurrency)
            _check(base_pool, n, "baseline")

            async def upload() -> float:
                started = time.perf_counter()
                await ferry.bridge.send_upload([sms.item(m) for m in ferry.take(1)])
                return started

            frame = 0

            async def trigger() -> float:
                started = time.perf_counter()
                await control.send_str(f"go:{frame}")
                return started

            # Both servers are up with their sockets open, and the rounds alternate (in
            # turn which goes first), so a slow spell of the machine hits both sides
            # alike instead of one of two phases run minutes apart.
            ferry_last, ferry_first, base_last, base_first = [], [], [], []
            # One round each first, not counted: a server's first broadcast builds the
            # statements and caches every later one reuses.
            _, _, frame = await _round(ferry_pool, upload)
            await _round(base_pool, trigger)
            for r in range(size.fanout_rounds):
                for ferry_turn in (True, False) if r % 2 == 0 else (False, True):
                    if ferry_turn:
                        last, first, frame = await _round(ferry_pool, upload)
                        ferry_last.append(last)
                        ferry_first.append(first)
                    else:
                        last, first, _ = await _round(base_pool, trigger)
                        base_last.append(last)
                        base_first.append(first)
        finally:
            await ferry_pool.close()
            await base_pool.close()
            await control.close()

    ferry_s, base_s = statistics.median(ferry_last), statistics.median(base_last)
    return [
        at_least(
            "fanout",
            "deliveries/s",
            n / ferry_s,
            n / base_s,
            TARGET,
            sockets=n,
            frame_bytes=frame,
            rounds=len(base_last),
            ferry_ms_to_first=statistics.median(ferry_first) * 1e3,
            ferry_ms_to_last=ferry_s * 1e3,
            baseline_ms_to_first=statistics.median(base_first) * 1e3,
            baseline_ms_to_last=base_s * 1e3,
            # First to last delivery: the broadcast loop itself (and the client reading
            # it), without what comes before Ferry's first frame (the commit).
            ferry_ms_first_to_last=statistics.median(
                a - b for a, b in zip(ferry_last, ferry_first, strict=True)
            )
            * 1e3,
            baseline_ms_first_to_last=statistics.median(
                a - b for a, b in zip(base_last, base_first, strict=True)
            )
            * 1e3,
            ferry_ms_to_last_all=[round(s * 1e3, 2) for s in ferry_last],
            baseline_ms_to_last_all=[round(s * 1e3, 2) for s in base_last],
        )
    ]


def _check(pool: BrowserPool, n: int, who: str) -> None:
    if len(pool.sockets) != n:
        raise RuntimeError(f"{who}: {pool.failures} of {n} sockets failed: {pool.first_error}")
