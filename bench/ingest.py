"""Durable ingest: bridge ─▶ commit ─▶ ack, messages/s.

Ferry: the synthetic bridge uploads N messages in batches of 100 with 4 uploads in flight
(as the real bridge does) and the clock stops at the last ``Ack`` (every item committed).
Baseline: bare sqlite3 inserting the same rows, 100 per commit, WAL, ``synchronous=FULL``.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import deque
from collections.abc import Sequence

import aiohttp

from bench import sms
from bench.baselines import sqlite_ingest
from bench.bridge import SyntheticBridge
from bench.report import Figure, at_least
from bench.target import Context, running_ferry
from protocol.messages import Ack, InboundSms

TARGET = 0.35
_BASELINE_RUNS = 3


async def pipelined_upload(
    bridge: SyntheticBridge, items: Sequence[InboundSms], batch: int, window: int
) -> None:
    """Upload ``items`` in order, keeping at most ``window`` batches unacknowledged."""
    in_flight: deque[asyncio.Future[Ack]] = deque()
    for start in range(0, len(items), batch):
        if len(in_flight) >= window:
            await in_flight.popleft()
        in_flight.append(await bridge.send_upload(items[start : start + batch]))
    for ack in in_flight:
        await ack


async def run(ctx: Context) -> list[Figure]:
    size = ctx.sizes
    async with aiohttp.ClientSession() as http, running_ferry(ctx, "ingest", http) as ferry:
        batch = [sms.item(n) for n in ferry.take(size.ingest_messages)]
        start, cpu = time.perf_counter(), ferry.server.cpu()
        await pipelined_upload(ferry.bridge, batch, size.upload_batch, size.uploads_in_flight)
        ferry_s = time.perf_counter() - start
        cpu = ferry.server.cpu() - cpu
    rows = sms.baseline_rows(batch)
    # A bare run takes well under a second, so one fsync hiccup would swing it: median of 3.
    base_s = statistics.median(
        [
            await asyncio.to_thread(
                sqlite_ingest, ctx.work_dir / "baseline-ingest.db", rows, size.upload_batch
            )
            for _ in range(_BASELINE_RUNS)
        ]
    )
    n = len(batch)
    return [
        at_least(
            "ingest",
            "messages/s",
            n / ferry_s,
            n / base_s,
            TARGET,
            messages=n,
            ferry_seconds=ferry_s,
            baseline_seconds=base_s,
            ferry_server_cpu_seconds=cpu,
        )
    ]
