"""Bridge ─▶ browser latency at light load (100 tabs), p50 and p99.

Ferry: the bridge uploads one message every ~20 ms; each tab's arrival time of the
``changes`` frame carrying it minus the upload's send time (same process clock) is one
sample. Baseline: a bare aiohttp websocket echo round trip at the same cadence. Targets
compare both Ferry percentiles with the baseline's p50.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import aiohttp
import msgspec

from bench import sms
from bench.browsers import CHANGES
from bench.report import Figure, at_most
from bench.target import Context, Ferry, running_baseline, running_ferry

TARGET_P50 = 25.0
TARGET_P99 = 50.0
_WARMUP = 10  # rounds before measuring, on both sides
_SETTLE = 1.0  # seconds to wait for the last deliveries


class _Body(msgspec.Struct):
    body: str


class _Frame(msgspec.Struct):
    """Just enough of a ``changes`` frame to match deliveries to probes."""

    messages: list[_Body]


_decode_changes = msgspec.json.Decoder(_Frame).decode


def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile, ``q`` in [0, 100]."""
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


async def _paced(rounds: int, interval: float, step: Callable[[int], Awaitable[None]]) -> None:
    """Call ``step(i)`` on a fixed schedule (no drift from the steps' own duration)."""
    start = time.perf_counter()
    for i in range(rounds):
        delay = start + i * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await step(i)


async def deliveries(
    ferry: Ferry,
    http: aiohttp.ClientSession,
    *,
    tabs: int,
    rounds: int,
    interval: float,
    concurrency: int,
) -> tuple[list[float], list[float], int, float]:
    """Upload one probe every ``interval`` seconds to ``tabs`` open tabs.

    Returns the upload ─▶ tab delivery samples, the upload ─▶ Ack samples, the number of
    deliveries expected, and the server's CPU seconds per message.
    """
    sent: dict[str, float] = {}
    committed: list[float] = []
    arrivals: list[tuple[float, str]] = []
    pool = await ferry.browsers(http)
    try:
        await pool.open(tabs, concurrency)
        # Keep the raw text only: decoding here would delay the next socket's arrival.
        pool.sink = lambda t, text: arrivals.append((t, text)) if text.startswith(CHANGES) else None
        acks = []

        async def upload(i: int) -> None:
            body = f"latency probe {i} {id(sent)}"
            item = sms.item(ferry.take(1)[0], body)
            started = time.perf_counter()
            ack = await ferry.bridge.send_upload([item])
            acks.append(ack)
            if i >= _WARMUP:
                sent[body] = started
                # Upload ─▶ Ack is the commit's share of the latency.
                ack.add_done_callback(lambda _: committed.append(time.perf_counter() - started))

        cpu = ferry.server.cpu()
        await _paced(_WARMUP + rounds, interval, upload)
        await asyncio.gather(*acks)
        await asyncio.sleep(_SETTLE)
        # CPU the server spent per message: above the interval, it cannot keep up.
        cpu_per_message = (ferry.server.cpu() - cpu) / (_WARMUP + rounds)
        opened = len(pool.sockets)
    finally:
        await pool.close()
    samples = [
        arrived - sent[m.body]
        for arrived, text in arrivals
        for m in _decode_changes(text).messages
        if m.body in sent
    ]
    return samples, committed, len(sent) * opened, cpu_per_message


async def _ferry(
    ctx: Context, database_url: str | None = None, name: str = "latency"
) -> tuple[list[float], list[float], int, float]:
    size = ctx.sizes
    async with (
        aiohttp.ClientSession() as http,
        running_ferry(ctx, name, http, history=size.history, database_url=database_url) as ferry,
    ):
        return await deliveries(
            ferry,
            http,
            tabs=size.latency_browsers,
            rounds=size.latency_rounds,
            interval=size.latency_interval,
            concurrency=size.connect_concurrency,
        )


async def _baseline(ctx: Context) -> list[float]:
    size = ctx.sizes
    samples: list[float] = []
    async with running_baseline(ctx, "baseline-latency") as base, aiohttp.ClientSession() as http:
        ws = await http.ws_connect(base.ws_url, compress=0)
        try:

            async def echo(i: int) -> None:
                started = time.perf_counter()
                await ws.send_str(f"latency probe {i}")
                await ws.receive()
                if i >= _WARMUP:
                    samples.append(time.perf_counter() - started)

            await _paced(_WARMUP + size.latency_rounds, size.latency_interval, echo)
        finally:
            await ws.close()
    return samples


async def run(ctx: Context) -> list[Figure]:
    return await measure(ctx)


async def measure(
    ctx: Context, *, database_url: str | None = None, name: str = "latency"
) -> list[Figure]:
    """The two latency figures, the server on SQLite or on the empty ``database_url``."""
    ferry, committed, expected, cpu_per_message = await _ferry(ctx, database_url, name)
    base = await _baseline(ctx)
    if not ferry:
        raise RuntimeError("no latency samples: no browser received a change")
    f50, f99 = percentile(ferry, 50) * 1e3, percentile(ferry, 99) * 1e3
    b50, b99 = percentile(base, 50) * 1e3, percentile(base, 99) * 1e3
    # Both percentiles are compared with the baseline's p50 (the targets).
    detail = {
        "samples": len(ferry),
        "expected_samples": expected,
        "baseline_p99_ms": b99,
        "ferry_max_ms": max(ferry) * 1e3,
        "ferry_upload_to_ack_p50_ms": percentile(committed, 50) * 1e3,
        "ferry_upload_to_ack_p99_ms": percentile(committed, 99) * 1e3,
        "ferry_server_cpu_ms_per_message": cpu_per_message * 1e3,
        "interval_ms": ctx.sizes.latency_interval * 1e3,
    }
    return [
        at_most("latency_p50", "ms", f50, b50, TARGET_P50, "baseline p50", **detail),
        at_most("latency_p99", "ms", f99, b50, TARGET_P99, "baseline p50", **detail),
    ]
