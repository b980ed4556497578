"""Fan-out of one message to 1,000 browser sockets of one account, deliveries/s.

Ferry: 1,000 subscribed tabs; the bridge uploads one message; the round ends when every
tab has its ``changes`` frame (deliveries/s = sockets / seconds from upload to the last
delivery). Baseline: the bare server broadcasting one pre-encoded frame of the same size
to 1,000 sockets, timed from the trigger to the last delivery. Median of a few rounds.
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

TARGET = 0.8
_PAUSE = 0.3  # between rounds, so each starts from idle sockets
_TIMEOUT = 60.0


async def _rounds(
    pool: BrowserPool, rounds: int, fire: Callable[[], Awaitable[float]]
) -> tuple[list[float], list[float], int]:
    """Run ``rounds`` broadcasts; returns (upload→last, upload→first) seconds, frame size."""
    to_last, to_first, size = [], [], 0
    for _ in range(rounds):
        await asyncio.sleep(_PAUSE)
        countdown = Countdown(len(pool.sockets))
        pool.sink = countdown
        started = await fire()
        await asyncio.wait_for(countdown.done, _TIMEOUT)
        to_last.append(countdown.last - started)
        to_first.append(countdown.first - started)
        size = countdown.frame_bytes
    pool.sink = None
    return to_last, to_first, size


async def run(ctx: Context) -> list[Figure]:
    size = ctx.sizes
    n = size.fanout_sockets
    async with (
        aiohttp.ClientSession() as http,
        running_ferry(ctx, "fanout", http, history=size.history) as ferry,
    ):
        pool = await ferry.browsers(http)
        try:
            await pool.open(n, size.connect_concurrency)
            _check(pool, n, "ferry")

            async def upload() -> float:
                started = time.perf_counter()
                await ferry.bridge.send_upload([sms.item(m) for m in ferry.take(1)])
                return started

            ferry_last, ferry_first, frame = await _rounds(pool, size.fanout_rounds, upload)
        finally:
            await pool.close()

    async with running_baseline(ctx, "baseline-fanout") as base:
        pool = base.browsers()
        async with aiohttp.ClientSession() as http:
            control = await http.ws_connect(base.ws_url, compress=0)
            try:
                await pool.open(n, size.connect_concurrency)
                _check(pool, n, "baseline")

                async def trigger() -> float:
                    started = time.perf_counter()
                    await control.send_str(f"go:{frame}")
                    return started

                base_last, base_first, _ = await _rounds(pool, size.fanout_rounds, trigger)
            finally:
                await pool.close()
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
            ferry_ms_to_first=statistics.median(ferry_first) * 1e3,
            ferry_ms_to_last=ferry_s * 1e3,
            baseline_ms_to_first=statistics.median(base_first) * 1e3,
            baseline_ms_to_last=base_s * 1e3,
            ferry_ms_to_last_all=[round(s * 1e3, 2) for s in ferry_last],
            baseline_ms_to_last_all=[round(s * 1e3, 2) for s in base_last],
        )
    ]


def _check(pool: BrowserPool, n: int, who: str) -> None:
    if len(pool.sockets) != n:
        raise RuntimeError(f"{who}: {pool.failures} of {n} sockets failed: {pool.first_error}")
